"""Decode one message fast (msgspec, in C), against the whole contract, for the per-report hot path.

pydantic stays the contract (``lakehouse.schemas``) and the judge (``lakehouse.codec.decode``): a riot
flood's report (ten citizens, thirty-six words) costs it ~15 µs, most of a rules worker's time. This module
derives from each message class a msgspec ``Struct`` with the same field names, types and bounds (unknown
fields refused, no coercion but an integer for a float, the contract's own RFC 3339 check and UTC conversion
for times, the contract's text checked on the raw bytes) and decodes with it; whatever it refuses, for any
reason, is handed to pydantic, which accepts it or names the bad field. So the fast path is never wider than
the contract: ``tests/lakehouse/test_fast_codec.py`` proves on generated hostile input that both paths
accept the same messages with the same values, as ``lakehouse.batch_codec`` does for Arrow.

What it returns is a Struct, not the pydantic instance: it has the model's attributes (nested messages
are Structs too, enums are the contract's enums, times are aware UTC datetimes), for code that reads a
message; what needs the model itself (``model_dump``, validation) uses ``lakehouse.codec``.
"""

from __future__ import annotations

import typing
from datetime import datetime
from enum import Enum
from functools import cache
from typing import Annotated, Any, TypeVar, cast

import msgspec
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from lakehouse import schemas
from lakehouse.codec import MAX_MESSAGE_BYTES, decode
from lakehouse.derive import _strip, declared

M = TypeVar("M", bound=BaseModel)


class _Unsupported(TypeError):
    """A part of the contract the fast path does not mirror: the class is left to pydantic alone."""


def _to_utc_ms(text: str) -> datetime:
    """The contract's own time validators, in its order (``schemas.UtcMillis``)."""
    return schemas._utc_ms(schemas._rfc3339(text))


def _limits(annotation: Any, metadata: list[Any]) -> tuple[Any, dict[str, Any], bool]:
    """The bare annotation, its bounds, and whether it is the contract's ``UtcMillis``."""
    field = declared(annotation, metadata)
    if field.unknown:
        raise _Unsupported(repr(field.unknown[0]))
    return field.annotation, field.limits, field.time_validators == 2


def _field_type(annotation: Any, metadata: list[Any], times: list[str], name: str) -> Any:
    annotation, limits, is_time = _limits(annotation, metadata)
    bare, optional = _strip(annotation)
    out: Any
    if isinstance(bare, type) and issubclass(bare, BaseModel):
        out = struct_of(bare)
    elif typing.get_origin(bare) is list:
        (element,) = typing.get_args(bare)
        out = list[_field_type(element, [], [], name)]  # type: ignore[misc]
    elif isinstance(bare, type) and issubclass(bare, datetime):
        if not is_time:
            raise _Unsupported(f"{name}: a datetime that is not the contract's UtcMillis")
        times.append(name)
        out = str  # checked and converted by the contract's own validators (``__post_init__``)
    elif isinstance(bare, type) and issubclass(bare, Enum | bool | int | float | str):
        out = bare  # a JSON float is finite in msgspec (an overflow is an error), as the contract wants
    else:
        raise _Unsupported(f"{name}: {annotation!r}")
    if limits:
        out = Annotated[out, msgspec.Meta(**limits)]
    return out | None if optional else out


@cache
def struct_of(model: type[BaseModel]) -> type[msgspec.Struct]:
    """The msgspec Struct mirroring ``model`` (raises ``_Unsupported`` for what it cannot mirror)."""
    if model.__pydantic_decorators__.field_validators or model.__pydantic_decorators__.model_validators:
        raise _Unsupported(f"validators of {model.__name__}")
    fields: list[tuple[str, Any, Any]] = []
    times: list[str] = []
    for name, info in model.model_fields.items():
        kind = _field_type(info.annotation, list(info.metadata), times, name)
        if info.default is not PydanticUndefined:
            fields.append((name, kind, info.default))
        elif info.default_factory is not None:
            fields.append((name, kind, msgspec.field(default_factory=info.default_factory)))  # type: ignore[arg-type]
        else:
            fields.append((name, kind, msgspec.NODEFAULT))
    # msgspec wants the fields without defaults first; the wire has no order, so that changes nothing.
    fields.sort(key=lambda f: f[2] is not msgspec.NODEFAULT)
    namespace: dict[str, Any] = {}
    if times:

        def __post_init__(self: Any) -> None:  # msgspec's hook, after a Struct is decoded
            for t in times:
                value = getattr(self, t)
                if value is not None:
                    setattr(self, t, _to_utc_ms(value))  # ValueError: refused, pydantic will say why

        namespace["__post_init__"] = __post_init__
    return msgspec.defstruct(
        model.__name__,
        [(n, k) if d is msgspec.NODEFAULT else (n, k, d) for n, k, d in fields],
        forbid_unknown_fields=True,
        namespace=namespace,
    )


@cache
def _decoder(model: type[BaseModel]) -> msgspec.json.Decoder[Any] | None:
    try:
        return msgspec.json.Decoder(struct_of(model))
    except _Unsupported:
        return None


def decode_fast(model: type[M], data: bytes | None) -> M:
    """One message: msgspec's Struct when it proves the message valid, else pydantic's verdict (the
    model instance, or ``ContractError`` naming the bad field). Either way it reads like a ``model``.

    The contract's text is checked on the bytes (``schemas.plain_json``): a message that may hold a
    refused character (an escape, or a character of U+0080-U+00BF or U+2000-U+2FFF) is pydantic's."""
    decoder = _decoder(model)
    if (
        decoder is not None
        and isinstance(data, bytes)
        and len(data) <= MAX_MESSAGE_BYTES
        and schemas.plain_json(data)
    ):
        try:
            return cast(M, decoder.decode(data))
        except (msgspec.ValidationError, msgspec.DecodeError, ValueError, OverflowError):
            pass
    return decode(model, data)
