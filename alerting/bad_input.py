"""What both alerting workers do with a message that breaks the contract: dead-letter it, go on.

A dead letter is durable before the offset that skips its message is committed: ``guard`` registers a
sink whose flush (step 1 of every Quix checkpoint, before the offsets are committed) waits until Kafka
has every dead letter produced so far, and fails the checkpoint if it cannot.
"""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import Producer
from quixstreams.dataframe import StreamingDataFrame
from quixstreams.models import Row
from quixstreams.sinks.base import BaseSink

from lakehouse.codec import ContractError
from lakehouse.dead_letters import envelope, producer_config
from lakehouse.settings import Settings
from lakehouse.streaming.runs import MessageRun


class DeadLetters:
    """A Quix ``on_processing_error`` callback: contract errors go to the dead-letter topic with the
    reason and the original bytes; anything else is a bug and stops the worker."""

    def __init__(self, settings: Settings, source: str) -> None:
        self.settings = settings
        self.source = source
        self.count = 0
        self._producer = Producer(producer_config(settings))

    def __call__(self, exc: Exception, row: Row | None, _logger: logging.Logger) -> bool:
        if not isinstance(exc, ContractError) or row is None or not isinstance(row.value, bytes | None):
            return False
        self._send(exc, row.value, row.key, row.topic, row.partition, row.offset)
        return True

    def reject(self, run: MessageRun, index: int, exc: ContractError) -> None:
        """Dead-letter message ``index`` of a run (its step decodes the run itself) and go on."""
        self._send(exc, run.values[index], run.keys[index], run.topic, run.partition, run.offsets[index])

    def _send(
        self, exc: Exception, original: bytes | None, key: Any, topic: str, partition: int, offset: int
    ) -> None:
        key, value, headers = envelope(
            exc, original, key, topic, partition, offset, self.source, self.settings.kafka.max_message_bytes
        )
        self._producer.produce(self.settings.kafka.dead_letter_topic, value=value, key=key, headers=headers)
        self._producer.poll(0)
        self.count += 1

    def send(self, original: bytes, reason: str, topic: str) -> None:
        """Dead-letter a message a sink gave up on (not a contract error: the reason says why)."""
        self._send(RuntimeError(reason), original, None, topic, -1, -1)

    def flush(self, timeout_s: float = 30.0) -> None:
        left = self._producer.flush(timeout_s)
        if left:
            raise RuntimeError(f"{left} dead letters not delivered within {timeout_s:.0f}s; not committing")

    def guard(self, sdf: StreamingDataFrame) -> None:
        """Flush the dead letters at every checkpoint, before its offsets are committed."""
        sdf.filter(lambda _value: False).sink(_Barrier(self))


class _Barrier(BaseSink):
    """A sink that receives nothing: its flush makes the dead letters durable (see the module doc)."""

    def __init__(self, dead_letters: DeadLetters) -> None:
        super().__init__()
        self.dead_letters = dead_letters

    def add(self, *_args: Any, **_kwargs: Any) -> None:
        return None

    def flush(self) -> None:
        self.dead_letters.flush()
