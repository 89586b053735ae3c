"""Quix Streams' one seam: every use of a name Quix keeps private lives here, and nowhere else.

quixstreams is pinned in pyproject; ``tests/lakehouse/adapters/test_quix_hooks.py`` checks, server-free,
that each private name relied on below still exists with the signature used, so an upgrade fails there
first. What the processors need from Quix beyond its public API:

- **runs of messages** (:class:`RunsOfMessages`, :class:`RunConsumer`): Quix's internal consumer, handing
  out one run of a partition's messages per row (``lakehouse.streaming.runs``); through
  ``Application._get_internal_consumer`` and the consumer's ``_poll_unbuffered``, ``_on_error`` and
  ``_topics``. ``tests/lakehouse/streaming/test_runs.py`` checks runs against the real broker;
- **rebalance hooks** (:class:`Rebalancing`): the application's ``_on_assign``, ``_on_revoke`` and
  ``_on_lost``, turned into three public methods a processor overrides, and one fix both processors
  need: a partition paused at a rebalance is resumed when it is assigned again;
- **stop signals** (:class:`KeepsStop`): ``_on_sigterm`` and ``_on_sigint``, recorded in
  :data:`lakehouse.stopping.STOP` as well;
- **a checkpoint now** (:func:`commit_checkpoint_now`) and **the consumer's cached watermarks**
  (:func:`cached_high_watermark`): ``Application._processing_context`` and ``Application._consumer``.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, TopicPartition
from quixstreams import Application
from quixstreams.error_callbacks import ConsumerErrorCallback
from quixstreams.exceptions import PartitionAssignmentError
from quixstreams.internal_consumer import InternalConsumer
from quixstreams.kafka.consumer import raise_for_msg_error
from quixstreams.models import Row
from quixstreams.models.serializers.exceptions import IgnoreMessage

from lakehouse.stopping import STOP
from lakehouse.streaming.runs import REMEMBERED_RUNS, MessageRun, runs_of

logger = logging.getLogger("harmony.streaming")

Rebalanced = Callable[[Consumer, list[TopicPartition]], None]


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


class Rebalancing:
    """An ``Application`` mixin (before ``Application``): Quix's private rebalance callbacks as three
    public hooks, called while this worker still owns the partitions where that matters.

    Every assignment first resumes the partitions it gives: librdkafka keeps a partition paused across
    unassign/assign, and Quix forgets the pauses it made (back-pressure, full buffers) when partitions
    are revoked, so a partition paused at a rebalance and given back was never consumed again (the
    reliability soak's stalled worker). Resuming before Quix's own assignment keeps the pauses Quix makes
    after it (state recovery) intact. ``tests/ingest/test_rebalance_pause.py`` checks both."""

    def on_assigned(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Before Quix's assignment: a hook may set each partition's starting ``offset``."""

    def on_revoked(self, partitions: list[TopicPartition]) -> None:
        """After Quix committed the checkpoint of the revoked partitions (and even if that failed)."""

    def on_lost(self, partitions: list[TopicPartition]) -> None:
        """Before Quix drops lost partitions: another worker may own them already, commit nothing."""

    def _on_assign(self, consumer: Consumer, topic_partitions: list[TopicPartition]) -> None:
        consumer.resume([TopicPartition(tp.topic, tp.partition) for tp in topic_partitions])
        self.on_assigned(consumer, topic_partitions)
        super()._on_assign(consumer, topic_partitions)  # type: ignore[misc]

    def _on_revoke(self, consumer: Consumer, topic_partitions: list[TopicPartition]) -> None:
        try:
            super()._on_revoke(consumer, topic_partitions)  # type: ignore[misc]
        finally:
            self.on_revoked(topic_partitions)

    def _on_lost(self, consumer: Consumer, topic_partitions: list[TopicPartition]) -> None:
        self.on_lost(topic_partitions)
        super()._on_lost(consumer, topic_partitions)  # type: ignore[misc]


class KeepsStop:
    """An ``Application`` mixin (before it): the signals Quix handles inside ``run`` are also recorded in
    :data:`lakehouse.stopping.STOP` (``tests/alerting/test_stopping.py`` checks the behaviour)."""

    def _on_sigterm(self, *args: Any) -> None:
        STOP.set()
        super()._on_sigterm(*args)  # type: ignore[misc]

    def _on_sigint(self, *args: Any) -> None:
        STOP.set()
        super()._on_sigint(*args)  # type: ignore[misc]


def commit_checkpoint_now(app: Application) -> None:
    """Land the current checkpoint now (a batch that reached its byte or row limit), not at the interval."""
    app._processing_context.commit_checkpoint(force=True)


def cached_high_watermark(app: Application, topic: str, partition: int) -> int:
    """The partition's end offset as the application's consumer last heard it (no request): -1 unknown."""
    _low, high = app._consumer.get_watermark_offsets(TopicPartition(topic, partition), cached=True)
    return int(high)
