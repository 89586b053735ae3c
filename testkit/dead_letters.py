"""Reading back the dead-letter topic: what every processor's bad-input test checks."""

from __future__ import annotations

import time
import uuid

import orjson
from confluent_kafka import Consumer, TopicPartition

from lakehouse.dead_letters import HEADER_SOURCE
from lakehouse.settings import Settings


def dead_letters_from(settings: Settings, topic: str) -> list[tuple[dict[str, object], dict[str, bytes]]]:
    """Every dead letter (record, headers) whose source message came from ``topic``."""
    dlq = settings.kafka.dead_letter_topic
    consumer = Consumer({**settings.kafka.client(), "group.id": f"dlq-{uuid.uuid4().hex}"})
    md = consumer.list_topics(dlq, timeout=10)
    consumer.assign([TopicPartition(dlq, p, 0) for p in md.topics[dlq].partitions])
    out = []
    idle = time.monotonic()
    while time.monotonic() - idle < 5:
        msg = consumer.poll(0.5)
        if msg is None or msg.error():
            continue
        idle = time.monotonic()
        headers = dict(msg.headers() or [])
        if headers.get(HEADER_SOURCE, b"").startswith(topic.encode() + b"/"):
            out.append((orjson.loads(msg.value()), headers))
    consumer.close()
    return out
