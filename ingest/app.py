"""The ingest processor: a Quix Streams application in its own consumer group, landing one stream.

The application subclass adds the three things exactly-once needs from the consumer: start each newly
assigned partition at the offset committed in the lake (not the group's committed offset), drop what
is buffered for a partition the moment it is lost, and flush early when a batch reaches its byte limit.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from quixstreams import Application

from ingest.sink import TRANSIENT, IcebergSink
from ingest.streams import Stream
from ingest.writer import ExactlyOnceWriter, WriterConfig
from lakehouse.adapters.quix import (
    KeepsStop,
    Rebalancing,
    RunsOfMessages,
    cached_high_watermark,
    commit_checkpoint_now,
)
from lakehouse.catalog import load_catalog
from lakehouse.dead_letters import DeadLetterProducer
from lakehouse.settings import IngestSettings, Settings
from lakehouse.streaming.connection import connection
from lakehouse.streaming.state import processor_state_dir
from lakehouse.streaming.topics import require_topics
from lakehouse.tables import ensure_table

logger = logging.getLogger("harmony.ingest")

# Messages one poll may hand over at most (all partitions): what librdkafka holds is taken at once.
MAX_RUN = 10_000


class LakeApplication(KeepsStop, Rebalancing, RunsOfMessages, Application):
    """A Quix ``Application`` whose source of truth for positions is the lake, reading its topic in runs
    of a partition's messages (``lakehouse.streaming.runs``)."""

    def __init__(self, sink: IcebergSink, max_bytes: int, max_rows: int, **kwargs: Any) -> None:
        self._lake_sink = sink
        self._max_bytes = max_bytes
        self._max_rows = max_rows
        self.stop_after: int | None = None  # messages (Quix's own ``run(count=)`` counts runs here)
        super().__init__(
            run_topics=frozenset({sink.topic}),
            max_run=MAX_RUN,
            on_message_processed=self._after_message,
            **kwargs,
        )

    def _after_message(self, topic: str, partition: int, offset: int) -> None:
        """After each run: a batch that reached its byte or row limit is landed now (Quix's own
        ``commit_every`` counts rows, and a row is a run here)."""
        sink = self._lake_sink
        if sink.buffered_bytes >= self._max_bytes or sink.buffered >= self._max_rows:
            commit_checkpoint_now(self)
        if self.stop_after is not None and sink.received >= self.stop_after:
            self.stop()  # the run that reached the count is landed whole by the final checkpoint

    def on_assigned(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Start each partition of the lake's topic at the lake's own offset, not the group's."""
        mine = [tp for tp in partitions if tp.topic == self._lake_sink.topic]
        if mine:
            starts = self._lake_offsets([tp.partition for tp in mine])
            for tp in mine:
                if tp.partition in starts:
                    tp.offset = starts[tp.partition]
            self._lake_sink.owned |= {tp.partition for tp in mine}
            logger.info(
                "assigned %s, starting at lake offsets %s", sorted(tp.partition for tp in mine), starts
            )

    def _lake_offsets(self, partitions: list[int]) -> dict[int, int]:
        """Where to start: read from the lake, waiting out an outage of the catalog or S3 (there is no
        other safe answer, so the assignment waits for it)."""
        delay = 1.0
        while True:
            try:
                return self._lake_sink.writer.start_offsets(partitions)
            except TRANSIENT as exc:
                logger.warning("cannot read the lake's offsets (%s); retrying in %.0fs", exc, delay)
                time.sleep(delay)
                delay = min(30.0, delay * 2)

    def on_revoked(self, partitions: list[TopicPartition]) -> None:
        # Quix committed the checkpoint while this worker still owned them; now they are the next owner's.
        self._lake_sink.release(tp.partition for tp in partitions if tp.topic == self._lake_sink.topic)

    def on_lost(self, partitions: list[TopicPartition]) -> None:
        # Lost, not revoked: another worker may already own them, so nothing buffered may be committed.
        self._lake_sink.release(tp.partition for tp in partitions if tp.topic == self._lake_sink.topic)
        logger.warning(
            "lost partitions %s; their buffered batch is dropped", [tp.partition for tp in partitions]
        )


@dataclass
class IngestApp:
    app: LakeApplication
    sink: IcebergSink


def build(settings: Settings, stream: Stream, options: IngestSettings | None = None) -> IngestApp:
    """Create the tables if needed, then the Quix application landing ``stream``.

    The topics come first: on a lane whose topics do not exist (never provisioned) this raises
    ``TopicMissing`` before any namespace or table is made for a stream that cannot arrive."""
    opts = options or settings.ingest
    topic_name = stream.topic(settings)
    require_topics(settings, (topic_name, settings.kafka.dead_letter_topic))
    catalog = load_catalog(settings)
    for spec, _ in stream.tables:
        ensure_table(catalog, spec, settings)
    writer = ExactlyOnceWriter(
        catalog,
        topic_name,
        {spec: spec.identifier(settings) for spec, _ in stream.tables},
        WriterConfig(retain_snapshots=opts.retain_snapshots),
    )
    writer.start_offsets(())  # reads every table's offsets now: a table that lost them stops us here
    sink = IcebergSink(stream, topic_name, writer, DeadLetterProducer(settings))
    group = stream.consumer_group(opts.consumer_group)
    app = LakeApplication(
        sink,
        opts.max_bytes,
        opts.max_rows,
        broker_address=connection(settings),
        consumer_group=group,
        state_dir=str(processor_state_dir(settings.state_path, group)),
        auto_offset_reset="earliest",
        commit_interval=opts.commit_interval_s,
        consumer_extra_config={
            "session.timeout.ms": opts.session_timeout_ms,
            "heartbeat.interval.ms": max(1000, opts.session_timeout_ms // 5),
            "fetch.min.bytes": 1,
            "queued.max.messages.kbytes": 262_144,
        },
        loglevel="WARNING",
        auto_create_topics=False,
        use_changelog_topics=False,
    )
    source = app.topic(topic_name, value_deserializer="bytes", key_deserializer="bytes")
    sink.lag = lambda next_offsets: _lag(app, topic_name, next_offsets)
    app.dataframe(source).sink(sink)
    return IngestApp(app, sink)


def _lag(app: LakeApplication, topic: str, next_offsets: dict[int, int]) -> dict[int, int]:
    """Messages behind the end of each partition, from the consumer's cached watermarks."""
    out = {}
    for p, o in next_offsets.items():
        try:
            high = cached_high_watermark(app, topic, p)
        except Exception:  # noqa: S112 - lag is best-effort observability
            continue
        if high >= 0:
            out[p] = max(0, high - o)
    return out
