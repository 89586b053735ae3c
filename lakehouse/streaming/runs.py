"""Quix Streams one run of a partition's messages at a time, instead of one message at a time.

Why: Quix polls, deserialises, wraps and dispatches every message on its own, and on these machines
that alone costs ~10 µs a message before any work of ours (``benchmarks/quix_floor.py``): more than
the whole budget of a 65,000 reports/s ingest worker or a 40,000 reports/s rules worker. Both
processors decode in bulk anyway (``lakehouse.batch_codec``), so they gain nothing from single
messages. A *run* is what one poll of librdkafka's queue holds of one partition, in offset order: the
processors' source topic arrives as one Quix ``Row`` per run, whose value is a :class:`MessageRun` of
raw bytes and whose offset is the run's last. Everything else of Quix stays as it is: the consumer
group, checkpoints (a run's offset is stored only after the whole run was processed, so a crash replays
runs whole), state stores and their changelogs, sinks with back-pressure, repartitions, producers.
Other topics (a repartition topic, the alerts topic) keep Quix's one message, one row.

A run waits for nothing: the first message is polled as Quix polls it (up to its poll timeout), the
rest of the run is only what librdkafka already holds (``consume`` with no wait), so a quiet stream
gives runs of one message at Quix's own latency and a backlog gives long runs.

This module is the pure part (a run, and cutting polled messages into runs); the consumer that hands
runs to Quix extends it through private hooks, so it lives in Quix's one seam,
:mod:`lakehouse.adapters.quix` (``RunsOfMessages``, ``RunConsumer``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from confluent_kafka import Message
from quixstreams.models import MessageContext, Row

REMEMBERED_RUNS = 65_536  # far more runs than one checkpoint holds (alerting: 0.25 s, ingest: a few s)
RUN_KEY = b"run"  # the key of every run's Row: a run holds many keys (state under it is the partition's)


@dataclass(slots=True)
class MessageRun:
    """Consecutive messages of one partition, in offset order, as they came from Kafka (raw bytes)."""

    topic: str
    partition: int
    values: list[bytes | None] = field(default_factory=list)
    keys: list[bytes | None] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    timestamps: list[int] = field(default_factory=list)  # Kafka timestamps, epoch ms
    size: int = 0  # bytes of keys and values

    def __len__(self) -> int:
        return len(self.offsets)

    def append(self, value: bytes | None, key: bytes | None, offset: int, timestamp_ms: int) -> None:
        self.values.append(value)
        self.keys.append(key)
        self.offsets.append(offset)
        self.timestamps.append(timestamp_ms)
        self.size += (len(value) if value else 0) + (len(key) if key else 0)

    def row(self, leader_epoch: int | None = None) -> Row:
        """The run as one Quix row: its offset (what a checkpoint stores) and timestamp are the last's."""
        context = MessageContext(self.topic, self.partition, self.offsets[-1], self.size, leader_epoch)
        return Row(value=self, key=RUN_KEY, timestamp=self.timestamps[-1], context=context, headers=None)


def runs_of(messages: list[Message], run_topics: frozenset[str]) -> Iterator[MessageRun | Message]:
    """Cut ``messages`` (as polled) into runs: consecutive messages of one partition of ``run_topics``.

    A run ends where another partition's message comes, so the runs keep the exact order librdkafka
    gave: a consumer that sees partitions interleaved (the zone rules, across a riot window) sees them
    interleaved as before, a fetch of one partition at a time. Messages of other topics pass alone."""
    run: MessageRun | None = None
    for msg in messages:
        topic = msg.topic()
        if topic not in run_topics:
            if run is not None:
                yield run
                run = None
            yield msg
            continue
        partition = msg.partition()
        if run is None or run.partition != partition or run.topic != topic:
            if run is not None:
                yield run
            run = MessageRun(topic, partition)
        run.append(msg.value(), msg.key(), msg.offset(), msg.timestamp()[1])
    if run is not None:
        yield run
