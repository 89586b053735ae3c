"""The librdkafka behaviour both processors work around, and the workaround itself: a partition paused
before it is unassigned is still paused when assigned again, unless resumed; resuming it while unassigned
is allowed and takes effect at the next assignment; the processors' rebalance seam
(``lakehouse.adapters.quix.Rebalancing``, which ingest and alerting both mix in) resumes what it is given
before its hook and Quix's own assignment run."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from lakehouse.adapters.quix import Rebalancing
from lakehouse.settings import Settings


@pytest.fixture()
def topic(stack: Settings) -> Iterator[str]:
    name = f"test-pause-{uuid.uuid4().hex[:8]}"
    admin = AdminClient(stack.kafka.client())
    admin.create_topics([NewTopic(name, 1, 1)])[name].result(15)
    producer = Producer(stack.kafka.client())
    for _ in range(50):
        producer.produce(name, b"x")
    assert producer.flush(15) == 0
    yield name
    admin.delete_topics([name])[name].result(15)


def reassigned(stack: Settings, topic: str, resume_between: bool) -> int:
    """Messages consumed after pause, unassign, (resume,) assign."""
    consumer = Consumer({**stack.kafka.client(), "group.id": f"t-{uuid.uuid4().hex}"})
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        consumer.pause([TopicPartition(topic, 0)])
        assert consumer.consume(50, 1) == []
        consumer.unassign()
        if resume_between:
            consumer.resume([TopicPartition(topic, 0)])
        consumer.assign([TopicPartition(topic, 0, 0)])
        return len([m for m in consumer.consume(50, 3) if not m.error()])
    finally:
        consumer.close()


def test_a_pause_survives_reassignment_unless_resumed(stack: Settings, topic: str) -> None:
    assert reassigned(stack, topic, resume_between=False) == 0, "librdkafka changed: the workaround may go"
    assert reassigned(stack, topic, resume_between=True) == 50


def test_the_rebalancing_seam_resumes_what_it_assigns(stack: Settings, topic: str) -> None:
    calls: list[str] = []

    class Quix:  # stands in for Application: its own assignment must come after the seam's work
        def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
            calls.append("quix")

    class Processor(Rebalancing, Quix):
        def on_assigned(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
            calls.append("hook")

    consumer = Consumer({**stack.kafka.client(), "group.id": f"t-{uuid.uuid4().hex}"})
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        consumer.pause([TopicPartition(topic, 0)])
        assert consumer.consume(50, 1) == []
        consumer.unassign()
        given = [TopicPartition(topic, 0, 0)]
        Processor()._on_assign(consumer, given)  # what Quix's rebalance callback calls
        consumer.assign(given)
        assert len([m for m in consumer.consume(50, 3) if not m.error()]) == 50
    finally:
        consumer.close()
    assert calls == ["hook", "quix"]
