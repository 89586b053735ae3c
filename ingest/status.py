"""What `harmony ingest status` reports: offsets committed in each table, and the lag behind Kafka."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from ingest.streams import Stream
from ingest.writer import committed_offsets
from lakehouse.catalog import load_catalog
from lakehouse.settings import Settings


class TopicMissing(RuntimeError):
    """A topic the worker reads or writes does not exist: on a lane never provisioned, nothing would
    ever arrive (and the tables would be made for nothing). ``harmony stack up`` creates the topics."""

    def __init__(self, topic: str) -> None:
        super().__init__(f"topic {topic} does not exist: run `harmony stack up` (it creates the topics)")
        self.topic = topic


def require_topics(settings: Settings, topics: Iterable[str], timeout_s: float = 10) -> None:
    """Raise :class:`TopicMissing` for the first of ``topics`` the broker does not have, and
    ``ConnectionError`` (transient: retried by the worker) when the broker cannot be reached.

    Asks for the whole cluster's metadata, never one topic's: a request naming a topic would create it
    on a broker that auto-creates topics."""
    servers = settings.kafka.bootstrap_servers
    try:
        known = AdminClient({"bootstrap.servers": servers}).list_topics(timeout=timeout_s).topics
    except KafkaException as exc:
        raise ConnectionError(f"cannot reach Kafka at {servers}: {exc.args[0].str()}") from exc
    for topic in topics:
        if topic not in known:
            raise TopicMissing(topic)


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
    md = AdminClient({"bootstrap.servers": settings.kafka.bootstrap_servers}).list_topics(topic, timeout=10)
    partitions = sorted(md.topics[topic].partitions)
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka.bootstrap_servers,
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
