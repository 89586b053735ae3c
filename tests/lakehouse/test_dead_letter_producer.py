"""The dead-letter producer on the real broker: a full librdkafka queue means wait, not crash; every
letter acknowledged before ``flush`` returns; the topic's own size limit read from the broker, and set on
every topic by provisioning."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, ResourceType

from lakehouse.dead_letters import DeadLetterProducer, envelope
from lakehouse.settings import Settings
from lakehouse.streaming.topics import MAX_BYTES_CONFIG, topic_max_bytes


@pytest.fixture
def dlq(stack: Settings) -> Iterator[Settings]:
    topic = f"test-dlq-{uuid.uuid4().hex[:8]}"
    admin = AdminClient(stack.kafka.client())
    config = {MAX_BYTES_CONFIG: str(2 * 1024 * 1024)}  # smaller than the settings' 10 MiB
    admin.create_topics([NewTopic(topic, 1, 1, config=config)])[topic].result(15)
    yield stack.model_copy(update={"kafka": stack.kafka.model_copy(update={"dead_letter_topic": topic})})
    admin.delete_topics([topic])[topic].result(15)


def _count(settings: Settings) -> int:
    consumer = Consumer(settings.kafka.client({"group.id": "test-count"}))
    try:
        tp = TopicPartition(settings.kafka.dead_letter_topic, 0)
        return int(consumer.get_watermark_offsets(tp, timeout=10)[1])
    finally:
        consumer.close()


def test_more_dead_letters_than_librdkafka_queues_wait_instead_of_crashing(dlq: Settings) -> None:
    """150,000 letters in one go: librdkafka queues 100,000 at most (BufferError past that, which used to
    crash ingest and replay its batch forever)."""
    producer = DeadLetterProducer(dlq)
    for i in range(150_000):
        key, value, headers = envelope(ValueError("x"), b"{}", f"k{i}".encode(), "t", 0, i, "test", 1 << 21)
        producer.send(key, value, headers)
    producer.flush(120)
    assert producer.sent == 150_000
    assert _count(dlq) == 150_000, "every one acknowledged and on the topic"


def test_the_topics_own_limit_is_read_from_the_broker(dlq: Settings) -> None:
    assert topic_max_bytes(dlq, dlq.kafka.dead_letter_topic) == 2 * 1024 * 1024
    assert DeadLetterProducer(dlq).max_bytes == 2 * 1024 * 1024
    original = b"x" * (3 * 1024 * 1024)
    producer = DeadLetterProducer(dlq)
    producer.send(*envelope(ValueError("big"), original, None, "t", 0, 0, "test", producer.max_bytes))
    producer.flush(30)  # cut to what the topic takes: acknowledged, not refused


def test_provisioning_sets_every_topics_limit_from_the_settings(stack: Settings) -> None:
    admin = AdminClient(stack.kafka.client())
    resources = [ConfigResource(ResourceType.TOPIC, t) for t in stack.kafka.topics]
    for resource, fut in admin.describe_configs(resources).items():
        assert fut.result(15)[MAX_BYTES_CONFIG].value == str(stack.kafka.max_message_bytes), resource.name
