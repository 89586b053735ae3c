"""Derive Iceberg and Arrow schemas from the pydantic message classes: no second hand-written copy.

Mapping: ``str`` and string enums → string, ``int`` → long, ``float`` → double, aware ``datetime`` →
timestamptz (microseconds, UTC), ``list[X]`` → list, a nested model → struct. A field is required unless
its annotation admits ``None``; field ids are assigned depth-first from 1.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from functools import cache
from itertools import count
from typing import Annotated, Any, Union

import pyarrow as pa
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pyiceberg.io.pyarrow import schema_to_pyarrow
from pyiceberg.schema import Schema
from pyiceberg.types import (
    DoubleType,
    IcebergType,
    ListType,
    LongType,
    NestedField,
    StringType,
    StructType,
    TimestamptzType,
)

_SCALARS: dict[type, IcebergType] = {
    str: StringType(),
    int: LongType(),
    float: DoubleType(),
    datetime: TimestamptzType(),
}


def _strip(annotation: Any) -> tuple[Any, bool]:
    """Remove ``Annotated`` and ``Optional`` wrappers; returns the bare type and whether None is allowed."""
    optional = False
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            optional = optional or len(args) < len(typing.get_args(annotation))
            if len(args) != 1:
                raise TypeError(f"unions other than Optional are not supported: {annotation}")
            annotation = args[0]
        else:
            return annotation, optional


def _iceberg_type(annotation: Any, ids: count[int]) -> IcebergType:
    bare, _ = _strip(annotation)
    if isinstance(bare, type) and issubclass(bare, BaseModel):
        return StructType(*_fields(bare, ids))
    if typing.get_origin(bare) is list:
        (element,) = typing.get_args(bare)
        element_bare, element_optional = _strip(element)
        element_id = next(ids)
        return ListType(element_id, _iceberg_type(element_bare, ids), element_required=not element_optional)
    if isinstance(bare, type) and issubclass(bare, Enum):
        return StringType()
    if isinstance(bare, type):
        for py, ice in _SCALARS.items():
            if issubclass(bare, py):
                return ice
    raise TypeError(f"no Iceberg type for {annotation!r}")


def _fields(model: type[BaseModel], ids: count[int]) -> list[NestedField]:
    out = []
    for name, info in model.model_fields.items():
        field_id = next(ids)
        _, optional = _strip(info.annotation)
        out.append(
            NestedField(
                field_id=field_id,
                name=name,
                field_type=_iceberg_type(info.annotation, ids),
                required=not optional,
                doc=info.description,
            )
        )
    return out


def iceberg_schema(model: type[BaseModel]) -> Schema:
    """The Iceberg schema of a message class."""
    return Schema(*_fields(model, count(1)))


@cache
def arrow_schema(model: type[BaseModel]) -> pa.Schema:
    """The Arrow schema of a message class (nullability follows the Iceberg schema)."""
    return schema_to_pyarrow(iceberg_schema(model), include_field_ids=False)


def _small(t: pa.DataType) -> pa.DataType:
    """The same type with 32-bit offsets: Arrow's JSON reader cannot produce large lists."""
    if pa.types.is_large_string(t):
        return pa.string()
    if pa.types.is_large_list(t) or pa.types.is_list(t):
        f = t.value_field
        return pa.list_(pa.field(f.name, _small(f.type), f.nullable))
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, _small(f.type), f.nullable) for f in t])
    return t


@cache
def arrow_parse_schema(model: type[BaseModel]) -> pa.Schema:
    """The Arrow schema used to parse JSON messages straight into columns."""
    return pa.schema([pa.field(f.name, _small(f.type), f.nullable) for f in arrow_schema(model)])


LIMITS = ("ge", "le", "min_length", "max_length")


@dataclass(frozen=True)
class Bound:
    """One range or length constraint of the contract, addressed by its column path."""

    path: tuple[str, ...]  # e.g. ("citizens", "[]", "harmony_score")
    ge: float | None = None
    le: float | None = None
    min_length: int | None = None
    max_length: int | None = None


def _bounds_of(annotation: Any, path: tuple[str, ...], metadata: list[Any]) -> list[Bound]:
    metadata = list(metadata)
    while typing.get_origin(annotation) is Annotated:
        metadata += typing.get_args(annotation)[1:]
        annotation = typing.get_args(annotation)[0]
    flat: list[Any] = []
    for m in metadata:
        flat += m.metadata if isinstance(m, FieldInfo) else [m]
    limits = {k: next((getattr(m, k) for m in flat if hasattr(m, k)), None) for k in LIMITS}
    out = [Bound(path, **limits)] if any(v is not None for v in limits.values()) else []
    bare, _ = _strip(annotation)
    if isinstance(bare, type) and issubclass(bare, BaseModel):
        for name, info in bare.model_fields.items():
            out += _bounds_of(info.annotation, (*path, name), list(info.metadata))
    elif typing.get_origin(bare) is list:
        out += _bounds_of(typing.get_args(bare)[0], (*path, "[]"), [])
    return out


@cache
def bounds(model: type[BaseModel]) -> list[Bound]:
    """Every ``ge``/``le``/length constraint of a message class, for vectorised batch validation."""
    out: list[Bound] = []
    for name, info in model.model_fields.items():
        out += _bounds_of(info.annotation, (name,), list(info.metadata))
    return out
