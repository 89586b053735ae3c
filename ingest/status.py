"""What `harmony ingest status` reports: offsets committed in each table, and the lag behind Kafka."""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from ingest.streams import Stream
from ingest.writer import committed_offsets
from lakehouse.catalog import load_catalog
from lakehouse.settings import Settings
from lakehouse.streaming.topics import require_topics


@dataclass(frozen=True)
class PartitionStatus:
    table: str
    partition: int
    committed: int | None  # next offset recorded in the lake
    end: int  # Kafka high watermark
    group_committed: int | None  # the consumer group's committed offset

    @property
    def lag(self) -> int:
        return self.end - (self.committed or 0)


def ingest_status(settings: Settings, stream: Stream, group: str) -> list[PartitionStatus]:
    """Every partition of the stream's topic in each of its tables (lake offset None: nothing landed);
    :class:`TopicMissing` when the topic does not exist."""
    topic = stream.topic(settings)
    require_topics(settings, [topic])
    catalog = load_catalog(settings)
    md = AdminClient(settings.kafka.client()).list_topics(topic, timeout=10)
    partitions = sorted(md.topics[topic].partitions)
    consumer = Consumer(
        {
            **settings.kafka.client(),
            "group.id": group,
            "enable.auto.commit": False,
        }
    )
    try:
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions
        }
        group_offsets = {
            tp.partition: (tp.offset if tp.offset >= 0 else None)
            for tp in consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=10)
        }
    finally:
        consumer.close()
    out = []
    for spec, _ in stream.tables:
        ident = spec.identifier(settings)
        offsets = committed_offsets(catalog.load_table(ident), topic) if catalog.table_exists(ident) else {}
        out += [PartitionStatus(ident, p, offsets.get(p), ends[p], group_offsets.get(p)) for p in partitions]
    return out
