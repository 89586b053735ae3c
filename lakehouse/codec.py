"""JSON on the wire (orjson) for the contract's messages, with one typed error for bad input.

Processors catch :class:`ContractError` and send the original bytes to the dead-letter topic with
``error.field`` and ``error.reason``.
"""

from __future__ import annotations

from typing import TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from lakehouse.schemas import NOT_TEXT_RE, PLAIN_TEXT

M = TypeVar("M", bound=BaseModel)

MAX_MESSAGE_BYTES = 1 << 20


class ContractError(ValueError):
    """A message that does not satisfy the contract: which field, and why."""

    def __init__(self, message_type: str, field: str, reason: str) -> None:
        self.message_type = message_type
        self.field = field
        self.reason = reason
        super().__init__(f"invalid {message_type}: {field}: {reason}")


def encode(message: BaseModel) -> bytes:
    """Serialise a message in its wire format (see ``lakehouse.schemas`` for times)."""
    return orjson.dumps(message.model_dump(mode="json"))


def decode(model: type[M], data: bytes | bytearray | memoryview | str | None) -> M:
    """Parse and validate one message, or raise :class:`ContractError` naming the first bad field."""
    name = model.__name__
    if data is None:
        raise ContractError(name, "$", "empty message (no value)")
    if len(data) > MAX_MESSAGE_BYTES:
        raise ContractError(
            name, "$", f"message of {len(data)} bytes exceeds the {MAX_MESSAGE_BYTES} byte limit"
        )
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ContractError(name, "$", f"not valid JSON ({exc})") from exc
    if not isinstance(obj, dict):
        raise ContractError(name, "$", f"expected a JSON object, got {type(obj).__name__}")
    try:
        return model.model_validate(obj)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(p) for p in first["loc"]) or "$"
        more = exc.error_count() - 1
        reason = _reason(first) + (f" (and {more} more error{'s' if more > 1 else ''})" if more else "")
        raise ContractError(name, field, reason) from exc


def _reason(error: ErrorDetails) -> str:
    """pydantic's message, except for the contract's text, whose pattern says nothing to a person (and
    holds the very characters it refuses): which character, where."""
    if error["type"] == "string_pattern_mismatch" and error.get("ctx", {}).get("pattern") == PLAIN_TEXT:
        found = NOT_TEXT_RE.search(str(error["input"]))
        if found is not None:
            return (
                f"text holds U+{ord(found.group()):04X} at character {found.start()}: control characters, "
                "line separators and bidi embeddings, overrides and isolates are refused"
            )
    return error["msg"]
