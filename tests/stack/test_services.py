"""Each real server does its job: Kafka carries messages, MinIO stores objects."""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from pyarrow import fs

from lakehouse.settings import Settings
from lakehouse.storage import s3_filesystem


def test_topics_exist_with_configured_partitions(stack: Settings) -> None:
    md = AdminClient(stack.kafka.client()).list_topics(timeout=10)
    for topic in stack.kafka.topics:
        assert topic in md.topics, topic
        assert len(md.topics[topic].partitions) >= stack.kafka.partitions


def test_kafka_produce_then_consume(stack: Settings) -> None:
    topic = stack.kafka.dead_letter_topic
    token = uuid.uuid4().hex
    producer = Producer(stack.kafka.client({"enable.idempotence": True}))
    delivered = []
    for i in range(50):
        producer.produce(
            topic, key=token, value=f"{token}:{i}", on_delivery=lambda e, m: delivered.append((e, m))
        )
    assert producer.flush(15) == 0
    assert len(delivered) == 50 and all(err is None for err, _ in delivered)
    partition = delivered[0][1].partition()
    first = min(m.offset() for _, m in delivered)
    consumer = Consumer(stack.kafka.client({"group.id": token, "enable.auto.commit": False}))
    consumer.assign([TopicPartition(topic, partition, first)])
    got: list[str] = []
    deadline = time.monotonic() + 30
    while len(got) < 50 and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and not msg.error() and msg.key() == token.encode():
            got.append(msg.value().decode())
    consumer.close()
    assert got == [f"{token}:{i}" for i in range(50)], "same key: same partition, same order"


def test_minio_put_then_get(stack: Settings) -> None:
    s3 = stack.s3
    s3fs = s3_filesystem(stack)
    assert s3fs.get_file_info(s3.bucket).type == fs.FileType.Directory
    key = f"{s3.bucket}/tests/{uuid.uuid4().hex}.bin"
    payload = uuid.uuid4().bytes * 4096
    with s3fs.open_output_stream(key) as out:
        out.write(payload)
    with s3fs.open_input_stream(key) as inp:
        assert inp.read() == payload
    s3fs.delete_file(key)
    assert s3fs.get_file_info(key).type == fs.FileType.NotFound


def test_minio_rejects_wrong_keys(stack: Settings) -> None:
    s3fs = fs.S3FileSystem(
        access_key="wrong",
        secret_key="wrong-secret",
        endpoint_override=stack.s3.endpoint,
        scheme="http",
        region=stack.s3.region,
    )
    with pytest.raises(OSError, match="INVALID_ACCESS_KEY_ID"):
        s3fs.get_file_info(fs.FileSelector("/"))
