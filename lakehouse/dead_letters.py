"""The dead-letter envelope every processor uses for a message it cannot accept.

The value is a small JSON record (why, where from, which processor); the original bytes travel
untouched in a header, with the reason, so nothing is lost and a fixed message can be replayed.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from lakehouse.codec import ContractError
from lakehouse.settings import Settings

HEADER_ORIGINAL = "harmony.original"
HEADER_REASON = "harmony.reason"
HEADER_FIELD = "harmony.field"
HEADER_SOURCE = "harmony.source"
ENVELOPE_ROOM = 64 * 1024


def producer_config(settings: Settings) -> dict[str, object]:
    """Every processor's dead-letter producer: idempotent, and taking messages as large as the broker
    does, since :func:`envelope` cuts an original to that same limit."""
    return {
        "bootstrap.servers": settings.kafka.bootstrap_servers,
        "enable.idempotence": True,
        "message.max.bytes": settings.kafka.max_message_bytes,
    }


def envelope(
    error: ContractError | Exception,
    original: bytes | None,
    key: bytes | None,
    topic: str,
    partition: int,
    offset: int,
    processor: str,
    max_bytes: int,
) -> tuple[bytes | None, bytes, list[tuple[str, bytes]]]:
    """Key, value and headers of the dead letter for one rejected message.

    ``max_bytes`` is the broker's message size limit: an original too close to it to fit beside the
    envelope is cut, and the record says so (``original_truncated``).
    """
    original = original or b""
    room = max_bytes - ENVELOPE_ROOM
    truncated = len(original) > room
    field = error.field if isinstance(error, ContractError) else "$"
    reason = error.reason if isinstance(error, ContractError) else f"{type(error).__name__}: {error}"
    source = f"{topic}/{partition}/{offset}"
    value = orjson.dumps(
        {
            "processor": processor,
            "source": source,
            "field": field,
            "reason": reason,
            "error": str(error),
            "original_bytes": len(original),
            "original_truncated": truncated,
            "dead_at": datetime.now(UTC),
        },
        option=orjson.OPT_UTC_Z,
    )
    headers = [
        (HEADER_REASON, str(error).encode()),
        (HEADER_FIELD, field.encode()),
        (HEADER_SOURCE, source.encode()),
        (HEADER_ORIGINAL, original[:room] if truncated else original),
    ]
    return key, value, headers
