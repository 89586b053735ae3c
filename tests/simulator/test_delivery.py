"""Deliveries counted in bulk, on the real broker: librdkafka reports only failures, so a report the
broker refuses must still show as failed, and the rest as delivered, none pending after the flush."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from lakehouse.settings import Settings
from simulator.delivery import ReportProducer

pytestmark = pytest.mark.integration


@pytest.fixture()
def small_messages_topic(stack: Settings) -> Iterator[str]:
    admin = AdminClient(stack.kafka.client())
    name = f"test-small-{uuid.uuid4().hex[:8]}"
    topic = NewTopic(name, num_partitions=2, replication_factor=1, config={"max.message.bytes": "4096"})
    admin.create_topics([topic])[name].result(15)
    yield name
    admin.delete_topics([name])[name].result(15)


def test_refused_reports_count_as_failed_and_the_rest_as_delivered(
    stack: Settings, small_messages_topic: str
) -> None:
    producer = ReportProducer(stack.kafka.client(), small_messages_topic, extra={"linger.ms": 0})
    keys = [f"drone-{i:04d}".encode() for i in range(40)]
    producer.send(keys, [b'{"n":%d}' % i for i in range(40)])
    producer.flush(30)
    producer.send(keys[:3], [os.urandom(20_000) for _ in range(3)])  # over max.message.bytes, incompressible
    stats = producer.flush(30)
    assert (stats.produced, stats.delivered, stats.failed, stats.pending) == (43, 40, 3, 0), stats
    assert sum(stats.errors.values()) == 3 and stats.errors, stats.errors
    consumer = Consumer(stack.kafka.client({"group.id": uuid.uuid4().hex}))
    ends = [consumer.get_watermark_offsets(TopicPartition(small_messages_topic, p), 10)[1] for p in (0, 1)]
    consumer.close()
    assert sum(ends) == 40, "only the accepted reports are in the topic"
