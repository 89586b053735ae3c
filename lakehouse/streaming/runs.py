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

This extends Quix through private hooks (``Application._get_internal_consumer`` and the internal
consumer's ``poll_row``), so quixstreams is pinned in pyproject; ``tests/lakehouse/streaming`` checks
the behaviour against the real broker: runs in offset order, offsets committed at a run's end, nothing
of a revoked partition processed, back-pressure replaying from the checkpoint.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, TopicPartition
from quixstreams.error_callbacks import ConsumerErrorCallback
from quixstreams.exceptions import PartitionAssignmentError
from quixstreams.internal_consumer import InternalConsumer
from quixstreams.kafka.consumer import raise_for_msg_error
from quixstreams.models import MessageContext, Row
from quixstreams.models.serializers.exceptions import IgnoreMessage

logger = logging.getLogger("harmony.streaming")

REMEMBERED_RUNS = 65_536  # far more runs than one checkpoint holds (alerting: 0.25 s, ingest: a few s)
RUN_KEY = b"run"  # the key of every run's Row: a run holds many keys (state under it is the partition's)

Rebalanced = Callable[[Consumer, list[TopicPartition]], None]


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


def _partition_of(rows: Row | list[Row]) -> tuple[str, int]:
    first = rows[0] if isinstance(rows, list) else rows
    return first.topic, first.partition


class RunConsumer(InternalConsumer):
    """Quix's internal consumer, handing out a run of messages per partition of ``run_topics``."""

    def __init__(self, *args: Any, run_topics: frozenset[str], max_run: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.run_topics = run_topics
        self.max_run = max_run
        self._pending: deque[Row | list[Row]] = deque()
        self._assigned: set[tuple[str, int]] = set()
        # (topic, partition, a run's last offset) -> its first offset, for the runs handed out lately
        self._run_starts: dict[tuple[str, int, int], int] = {}
        self._run_order: deque[tuple[str, int, int]] = deque()

    def subscribe(
        self,
        topics: list[Any],
        on_assign: Rebalanced | None = None,
        on_revoke: Rebalanced | None = None,
        on_lost: Rebalanced | None = None,
    ) -> None:
        def assigned(consumer: Consumer, partitions: list[TopicPartition]) -> None:
            self._assigned |= {(tp.topic, tp.partition) for tp in partitions}
            if on_assign is not None:
                on_assign(consumer, partitions)

        def gone(callback: Rebalanced | None) -> Rebalanced:
            def handler(consumer: Consumer, partitions: list[TopicPartition]) -> None:
                # Runs polled but not processed yet belong to the partitions' next owner: forget them
                # before the checkpoint is committed (nothing of theirs was stored).
                self._drop({(tp.topic, tp.partition) for tp in partitions})
                if callback is not None:
                    callback(consumer, partitions)

            return handler

        super().subscribe(topics, on_assign=assigned, on_revoke=gone(on_revoke), on_lost=gone(on_lost))

    def _drop(self, partitions: set[tuple[str, int]]) -> None:
        self._assigned -= partitions
        self._pending = deque(rows for rows in self._pending if _partition_of(rows) not in partitions)

    def poll_row(self, timeout: float | None = None, buffered: bool = False) -> Row | list[Row] | None:
        if buffered:
            raise NotImplementedError("runs of messages do not align timestamps across topics (joins)")
        if not self._pending:
            self._fill(timeout)
        return self._pending.popleft() if self._pending else None

    def _fill(self, timeout: float | None) -> None:
        first = self._poll_unbuffered(timeout=timeout)
        if first is None:
            return
        messages: list[Message] = [first]
        if self.max_run > 1:
            try:
                more = self.consume(num_messages=self.max_run - 1, timeout=0)  # what is queued, no wait
            except PartitionAssignmentError:
                raise
            except Exception as exc:
                if not self._on_error(exc, None, logger):
                    raise
                more = []
            for msg in more:
                try:
                    messages.append(raise_for_msg_error(msg))
                except Exception as exc:
                    if not self._on_error(exc, msg, logger):
                        raise
        assigned = self._assigned
        for item in runs_of(messages, self.run_topics):
            if isinstance(item, MessageRun):
                if (item.topic, item.partition) in assigned:
                    self._pending.append(item.row())
                    self._remember(item)
            elif (item.topic(), item.partition()) in assigned:
                rows = self._deserialize(item)
                if rows is not None:
                    self._pending.append(rows)

    def _deserialize(self, msg: Message) -> Row | list[Row] | None:
        """One message of a topic not in runs, as Quix's own ``poll_row`` deserialises it."""
        try:
            return self._topics[msg.topic()].row_deserialize(message=msg)
        except IgnoreMessage:
            return None
        except Exception as exc:
            if self._on_error(exc, msg, logger):
                return None
            raise

    def _remember(self, run: MessageRun) -> None:
        key = (run.topic, run.partition, run.offsets[-1])
        self._run_starts[key] = run.offsets[0]
        self._run_order.append(key)
        if len(self._run_order) > REMEMBERED_RUNS:
            self._run_starts.pop(self._run_order.popleft(), None)

    def trigger_backpressure(self, offsets_to_seek: dict[tuple[str, int], int], resume_after: float) -> None:
        """Quix seeks every data partition back to the first offset its checkpoint stored, which for a
        run is the run's *last* offset: seek to the run's first instead, or the rest of it is skipped."""
        self._pending.clear()  # everything pending will be polled again after the seek
        seek = {}
        for (topic, partition), offset in offsets_to_seek.items():
            if topic in self.run_topics:
                first = self._run_starts.get((topic, partition, offset))
                offset = first if first is not None else self._committed(topic, partition, offset)
            seek[(topic, partition)] = offset
        super().trigger_backpressure(seek, resume_after)

    def _committed(self, topic: str, partition: int, offset: int) -> int:
        """The group's committed offset: where this checkpoint started (a run forgotten: never expected)."""
        logger.warning("%s[%s]: run ending at %s not remembered; seeking to the committed offset",
                       topic, partition, offset)  # fmt: skip
        (tp,) = self.committed([TopicPartition(topic, partition)], timeout=30)
        return int(tp.offset) if tp.offset >= 0 else OFFSET_BEGINNING

    def close(self) -> None:
        self._pending.clear()
        super().close()  # type: ignore[no-untyped-call]


class RunsOfMessages:
    """An ``Application`` mixin (put it before ``Application``): ``run_topics`` arrive as runs of at most
    ``max_run`` messages a poll, other topics one message at a time."""

    _config: Any  # Application's

    def __init__(
        self, *args: Any, run_topics: frozenset[str] = frozenset(), max_run: int = 1, **kwargs: Any
    ) -> None:
        self.run_topics, self.max_run = run_topics, max_run  # before Application builds the consumer
        super().__init__(*args, **kwargs)

    def _get_internal_consumer(
        self,
        on_error: ConsumerErrorCallback | None = None,
        extra_config_overrides: dict[str, Any] | None = None,
    ) -> InternalConsumer:
        config = self._config
        return RunConsumer(
            broker_address=config.broker_address,
            consumer_group=config.consumer_group,
            auto_offset_reset=config.auto_offset_reset,
            auto_commit_enable=False,  # Quix commits its checkpoints itself
            max_partition_buffer_size=config.max_partition_buffer_size,
            extra_config={**config.consumer_extra_config, **(extra_config_overrides or {})},
            on_error=on_error,
            run_topics=self.run_topics,
            max_run=self.max_run,
        )
