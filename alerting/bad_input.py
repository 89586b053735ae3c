"""What both alerting workers do with a message that breaks the contract: dead-letter it, go on.

A dead letter is durable before the offset that skips its message is committed: ``guard`` registers a
sink whose flush (step 1 of every Quix checkpoint, before the offsets are committed) waits until Kafka
has every dead letter produced so far, and fails the checkpoint if it cannot.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from quixstreams.dataframe import StreamingDataFrame
from quixstreams.error_callbacks import default_on_consumer_error
from quixstreams.models import RawConfluentKafkaMessageProto, Row
from quixstreams.models.serializers import SerializationError
from quixstreams.sinks.base import BaseSink

from lakehouse.codec import ContractError
from lakehouse.dead_letters import DeadLetterProducer, envelope
from lakehouse.settings import Settings
from lakehouse.streaming.runs import MessageRun


class DeadLetters:
    """Quix's ``on_processing_error`` and ``on_consumer_error`` callbacks: a message that breaks the
    contract (or that Quix cannot even deserialize: a repartition or alerts message that is not what it
    should be) goes to the dead-letter topic with the reason, its topic and offset and the original bytes;
    anything else is a bug and stops the worker."""

    def __init__(self, settings: Settings, source: str) -> None:
        self.settings = settings
        self.source = source
        self.count = 0
        self._producer = DeadLetterProducer(settings)

    def __call__(self, exc: Exception, row: Row | None, _logger: logging.Logger) -> bool:
        if not isinstance(exc, ContractError) or row is None:
            return False
        value = row.value if isinstance(row.value, bytes | None) else _as_json(row.value)
        self._send(exc, value, row.key, row.topic, row.partition, row.offset)
        return True

    def on_consumer_error(
        self, exc: Exception, message: RawConfluentKafkaMessageProto | None, logger: logging.Logger
    ) -> bool:
        """A message Quix could not deserialize (its key or value): dead-lettered, the worker goes on.
        Kafka's own errors keep Quix's default (logged, raised). Quix stores no offset for such a message:
        it is committed past with the next message of its partition, and a restart before that
        dead-letters it again (at-least-once, as everything else)."""
        if not isinstance(exc, SerializationError) or message is None:
            return bool(default_on_consumer_error(exc, message, logger))
        raw = message.value()
        topic, partition, offset = message.topic() or "?", message.partition() or 0, message.offset() or 0
        self._send(exc, raw if isinstance(raw, bytes) else None, message.key(), topic, partition, offset)
        return True

    def reject(self, run: MessageRun, index: int, exc: ContractError) -> None:
        """Dead-letter message ``index`` of a run (its step decodes the run itself) and go on."""
        self._send(exc, run.values[index], run.keys[index], run.topic, run.partition, run.offsets[index])

    def _send(
        self, exc: Exception, original: bytes | None, key: Any, topic: str, partition: int, offset: int
    ) -> None:
        key, value, headers = envelope(
            exc, original, key, topic, partition, offset, self.source, self._producer.max_bytes
        )
        self._producer.send(key, value, headers)
        self.count += 1

    def send(self, original: bytes, reason: str, topic: str) -> None:
        """Dead-letter a message a sink gave up on (not a contract error: the reason says why)."""
        self._send(RuntimeError(reason), original, None, topic, -1, -1)

    def flush(self, timeout_s: float = 30.0) -> None:
        self._producer.flush(timeout_s)

    def guard(self, sdf: StreamingDataFrame) -> None:
        """Flush the dead letters at every checkpoint, before its offsets are committed."""
        sdf.filter(lambda _value: False).sink(_Barrier(self))


def _as_json(value: Any) -> bytes:
    """A deserialized value (a repartition message) in bytes again, for the dead letter."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return repr(value).encode("utf-8", "backslashreplace")


class _Barrier(BaseSink):
    """A sink that receives nothing: its flush makes the dead letters durable (see the module doc)."""

    def __init__(self, dead_letters: DeadLetters) -> None:
        super().__init__()
        self.dead_letters = dead_letters

    def add(self, *_args: Any, **_kwargs: Any) -> None:
        return None

    def flush(self) -> None:
        self.dead_letters.flush()
