"""The dead-letter envelope every processor uses for a message it cannot accept, and its producer.

The value is a small JSON record (why, where from, which processor); the original bytes travel in a
header, so nothing is lost and a fixed message can be replayed. Everything a message brings is bounded:
the key, the reason and the field (for an unknown JSON key, pydantic's field name *is* that key) are cut
to a few KiB with a marker, and the original is kept whole when it fits the topic's limit, else a prefix
with its size and SHA-256. So a dead letter always fits the dead-letter topic, whatever it carries.

Every dead letter is produced with a delivery callback, waited for when librdkafka's queue is full
(``BufferError`` means wait, not crash), and :meth:`DeadLetterProducer.flush` raises unless Kafka
acknowledged every one: the processors flush before committing the offsets that skip the messages.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from confluent_kafka import KafkaError, Message, Producer

from lakehouse.codec import ContractError
from lakehouse.settings import Settings
from lakehouse.streaming.topics import topic_max_bytes

HEADER_ORIGINAL = "harmony.original"
HEADER_REASON = "harmony.reason"
HEADER_FIELD = "harmony.field"
HEADER_SOURCE = "harmony.source"
KEY_LIMIT = 4096  # bytes of the original key kept
REASON_LIMIT = 4096  # bytes (UTF-8) of the reason kept
FIELD_LIMIT = 2048  # bytes (UTF-8) of the field kept
# Room for everything but the original: the cut key, reason (twice) and field (twice; JSON escaping grows
# a byte to six at most), the record's other fields and Kafka's own overhead.
ENVELOPE_ROOM = 64 * 1024


def producer_config(settings: Settings) -> dict[str, object]:
    """Every processor's dead-letter producer: idempotent, and taking messages as large as the broker
    does, since :func:`envelope` cuts an original to that same limit."""
    return {
        **settings.kafka.client(),
        "enable.idempotence": True,
        "message.max.bytes": settings.kafka.max_message_bytes,
    }


def cut(data: bytes, limit: int) -> bytes:
    """``data`` if it is at most ``limit`` bytes, else its first ``limit`` bytes and a marker."""
    if len(data) <= limit:
        return data
    return data[:limit] + f"...[cut: {len(data)} bytes]".encode()


def cut_text(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` bytes of UTF-8 (never inside a character), with a marker."""
    data = text.encode("utf-8", "backslashreplace")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", "ignore") + f"...[cut: {len(data)} bytes]"


def _as_bytes(key: Any) -> bytes | None:
    if key is None or isinstance(key, bytes):
        return key
    return str(key).encode("utf-8", "backslashreplace")


def envelope(
    error: ContractError | Exception,
    original: bytes | None,
    key: Any,
    topic: str,
    partition: int,
    offset: int,
    processor: str,
    max_bytes: int,
) -> tuple[bytes | None, bytes, list[tuple[str, bytes]]]:
    """Key, value and headers of the dead letter for one rejected message.

    ``max_bytes`` is the dead-letter topic's message size limit: an original too close to it to fit
    beside the envelope is cut, and the record says so (``original_truncated``, its size and SHA-256).
    """
    original = original or b""
    room = max(0, max_bytes - ENVELOPE_ROOM)
    truncated = len(original) > room
    if isinstance(error, ContractError):
        field, reason, summary = error.field, error.reason, str(error)  # "invalid T: field: reason"
    else:
        field = "$"
        reason = summary = f"{type(error).__name__}: {error}"
    field, reason = cut_text(field, FIELD_LIMIT), cut_text(reason, REASON_LIMIT)
    summary = cut_text(summary, REASON_LIMIT)
    source = f"{topic}/{partition}/{offset}"
    record: dict[str, Any] = {
        "processor": processor,
        "source": source,
        "field": field,
        "reason": reason,
        "original_bytes": len(original),
        "original_truncated": truncated,
        "dead_at": datetime.now(UTC),
    }
    if truncated:
        record["original_sha256"] = hashlib.sha256(original).hexdigest()
    value = orjson.dumps(record, option=orjson.OPT_UTC_Z)
    headers = [
        (HEADER_REASON, summary.encode("utf-8", "backslashreplace")),
        (HEADER_FIELD, field.encode("utf-8", "backslashreplace")),
        (HEADER_SOURCE, source.encode("utf-8", "backslashreplace")),
        (HEADER_ORIGINAL, original[:room] if truncated else original),
    ]
    raw_key = _as_bytes(key)
    return (None if raw_key is None else cut(raw_key, KEY_LIMIT)), value, headers


class DeadLettersUndelivered(ConnectionError):
    """Kafka did not acknowledge every dead letter: the offsets that skip their messages stay
    uncommitted (a connection problem to the callers, which replay the batch)."""


class DeadLetterProducer:
    """Produces dead letters with a delivery callback; :meth:`flush` proves every one acknowledged.

    Thread-safe: a sink's delivery thread and the poll loop may share one. Each thread's failures are
    its own (librdkafka runs a callback in whichever thread polls), so one thread's flush never reports,
    or swallows, another's refused letter."""

    def __init__(self, settings: Settings, full_queue_s: float = 120.0) -> None:
        self.topic = settings.kafka.dead_letter_topic
        self.max_bytes = topic_max_bytes(settings, self.topic)  # what the topic takes, read at start
        self.full_queue_s = full_queue_s
        self._producer = Producer(producer_config(settings))
        self._failures: dict[int, list[str]] = {}
        self._lock = threading.Lock()
        self.sent = 0

    def _callback(self) -> Callable[[KafkaError | None, Message], None]:
        owner = threading.get_ident()

        def delivered(err: KafkaError | None, _msg: Message) -> None:
            if err is not None:
                with self._lock:
                    self._failures.setdefault(owner, []).append(str(err))

        return delivered

    def send(self, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]]) -> None:
        """Queue one dead letter; while librdkafka's queue is full, serve deliveries and try again (for
        ``full_queue_s`` at most: then the broker is away, and the caller must not commit)."""
        deadline = time.monotonic() + self.full_queue_s
        callback = self._callback()
        while True:
            try:
                self._producer.produce(
                    self.topic, value=value, key=key, headers=headers, on_delivery=callback
                )
                break
            except BufferError:
                if time.monotonic() > deadline:
                    raise DeadLettersUndelivered(
                        f"the dead-letter queue stayed full for {self.full_queue_s:.0f}s; not committing"
                    ) from None
                self._producer.poll(0.1)  # a full queue: wait for deliveries (or their timeouts)
        self._producer.poll(0)
        with self._lock:
            self.sent += 1

    def flush(self, timeout_s: float = 30.0) -> None:
        """Wait until Kafka acknowledged every dead letter this thread sent so far, or raise."""
        left = self._producer.flush(timeout_s)
        with self._lock:
            failures = self._failures.pop(threading.get_ident(), [])
        if left:
            raise DeadLettersUndelivered(
                f"{left} dead letters not delivered within {timeout_s:.0f}s; not committing"
            )
        if failures:
            raise DeadLettersUndelivered(
                f"{len(failures)} dead letters refused by Kafka ({failures[0]}); not committing"
            )
