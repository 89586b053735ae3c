"""Derive Iceberg and Arrow schemas from the pydantic message classes: no second hand-written copy.

Mapping: ``bool`` → boolean, ``str`` and string enums → string, ``int`` → long, ``float`` → double,
aware ``datetime`` → timestamptz (microseconds, UTC), ``list[X]`` → list, a nested model → struct. A field
is required unless its annotation admits ``None``; field ids are assigned depth-first from 1.
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
from pydantic import BaseModel, PlainSerializer, Strict
from pydantic.fields import FieldInfo
from pyiceberg.io.pyarrow import schema_to_pyarrow
from pyiceberg.schema import Schema
from pyiceberg.types import (
    BooleanType,
    DoubleType,
    IcebergType,
    ListType,
    LongType,
    NestedField,
    StringType,
    StructType,
    TimestamptzType,
)

from lakehouse import schemas
from lakehouse.adapters.pydantic import general_constraints

_SCALARS: dict[type, IcebergType] = {
    bool: BooleanType(),  # before int: bool is a subclass of int
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


def personal_paths(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> frozenset[tuple[str, ...]]:
    """The fields marked ``schemas.PERSONAL``, as paths of field names (a list's elements are looked
    through: ``("citizens", "name")`` is the name of each citizen of a report)."""
    out: set[tuple[str, ...]] = set()
    for name, info in model.model_fields.items():
        path = (*prefix, name)
        if any(isinstance(m, schemas.Personal) for m in info.metadata):
            out.add(path)
            continue
        bare, _ = _strip(info.annotation)
        while typing.get_origin(bare) is list:
            bare, _ = _strip(typing.get_args(bare)[0])
        if isinstance(bare, type) and issubclass(bare, BaseModel):
            out |= personal_paths(bare, path)
    return frozenset(out)


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
    """The Arrow schema of decoded messages (32-bit offsets, as Arrow's JSON reader builds them)."""
    return pa.schema([pa.field(f.name, _small(f.type), f.nullable) for f in arrow_schema(model)])


@cache
def arrow_json_schema(model: type[BaseModel]) -> pa.Schema:
    """The schema Arrow's JSON reader parses with: timestamps stay strings, for the contract to check.

    Arrow's own timestamp parser is laxer than the contract (dates, naive times, a space for ``T``).
    """
    return pa.schema(
        [
            pa.field(f.name, pa.string(), f.nullable) if pa.types.is_timestamp(f.type) else f
            for f in arrow_parse_schema(model)
        ]
    )


@dataclass(frozen=True)
class Check:
    """Every constraint of the contract on one column path, for vectorised batch validation.

    ``path`` addresses the column (``"[]"`` descends into a list's elements), e.g.
    ``("citizens", "[]", "harmony_score")``. Bounds are those of pydantic's ``Field``; ``finite`` holds for
    every float (JSON, as the contract reads it, has no NaN or infinity); ``choices`` are the values of an
    enum; ``time`` marks the contract's RFC 3339 timestamp; ``pattern`` is a ``Field(pattern=...)``.
    """

    path: tuple[str, ...]
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    finite: bool = False
    choices: tuple[str, ...] | None = None
    time: bool = False
    pattern: str | None = None  # a regular expression every value must match (the contract's text)


@dataclass(frozen=True)
class Constraints:
    """What the fast decoder must check for one message class, and what it cannot check at all."""

    checks: tuple[Check, ...]
    unsupported: tuple[str, ...]  # non-empty: only pydantic may decide, the fast path is off


_BOUNDS = ("ge", "gt", "le", "lt", "min_length", "max_length")


def _is_time_validator(m: Any) -> bool:
    """The contract's own timestamp validators (``schemas.UtcMillis``), which the fast path mirrors."""
    func = getattr(m, "func", None)
    return func in (schemas._rfc3339, schemas._utc_ms)


@dataclass(frozen=True)
class Declared:
    """What a field declares about its values, as the decoders that mirror the contract read it."""

    annotation: Any  # without its ``Annotated`` layers
    limits: dict[str, Any]  # pydantic's bounds (``_BOUNDS``)
    pattern: str | None  # the contract's text (``schemas.PLAIN_TEXT``), the one pattern decoders mirror
    time_validators: int  # how many of the contract's own timestamp validators (``UtcMillis``: 2)
    unknown: list[Any]  # anything else: a decoder that meets one must leave the field to pydantic


def declared(annotation: Any, metadata: list[Any]) -> Declared:
    """Every constraint on a field (its own metadata, its ``Annotated`` layers', those inside
    ``Field(...)``), sorted into bounds, the contract's time validators, what changes nothing a decoder
    accepts (strictness, serialisers, the refusal of NaN and infinity) and what is unknown."""
    metadata = list(metadata)
    while typing.get_origin(annotation) is Annotated:
        metadata += typing.get_args(annotation)[1:]
        annotation = typing.get_args(annotation)[0]
    flat: list[Any] = []
    for m in metadata:
        flat += m.metadata if isinstance(m, FieldInfo) else [m]
    limits: dict[str, Any] = {}
    pattern: str | None = None
    time_validators = 0
    unknown: list[Any] = []
    for m in flat:
        known = [k for k in _BOUNDS if getattr(m, k, None) is not None]
        if known:
            limits.update({k: getattr(m, k) for k in known})
        elif isinstance(m, (Strict, PlainSerializer)):
            continue  # both decoders are strict; serialisers do not change what is accepted
        elif isinstance(m, schemas.Personal):
            continue  # who may read a value, not which values are valid
        elif (general := general_constraints(m)) is not None and set(general) <= {"allow_inf_nan", "strict"}:
            continue  # NaN and infinity are refused for every float (JSON has neither)
        elif general == {"pattern": schemas.PLAIN_TEXT}:
            pattern = (
                schemas.PLAIN_TEXT
            )  # the contract's text; any other is unknown (RE2 is not Rust's regex)
        elif _is_time_validator(m):
            time_validators += 1
        else:
            unknown.append(m)
    return Declared(annotation, limits, pattern, time_validators, unknown)


def _checks_of(
    annotation: Any, path: tuple[str, ...], metadata: list[Any], unsupported: list[str]
) -> list[Check]:
    field = declared(annotation, metadata)
    annotation, limits, time_validators = field.annotation, field.limits, field.time_validators
    where = ".".join(path)
    unsupported += [f"{where}: {m!r}" for m in field.unknown]
    bare, _ = _strip(annotation)
    out: list[Check] = []
    if isinstance(bare, type) and issubclass(bare, BaseModel):
        if bare.__pydantic_decorators__.field_validators or bare.__pydantic_decorators__.model_validators:
            unsupported.append(f"{where}: validators of {bare.__name__}")
        for name, info in bare.model_fields.items():
            out += _checks_of(info.annotation, (*path, name), list(info.metadata), unsupported)
    elif typing.get_origin(bare) is list:
        out += _checks_of(typing.get_args(bare)[0], (*path, "[]"), [], unsupported)
    is_time = isinstance(bare, type) and issubclass(bare, datetime)
    if is_time and (time_validators != 2 or len(path) != 1):
        unsupported.append(f"{where}: a datetime that is not the contract's top-level UtcMillis")
    choices = tuple(e.value for e in bare) if isinstance(bare, type) and issubclass(bare, Enum) else None
    finite = isinstance(bare, type) and issubclass(bare, float)
    if limits or choices or finite or is_time or field.pattern:
        out.append(Check(path, finite=finite, choices=choices, time=is_time, pattern=field.pattern, **limits))
    return out


@cache
def constraints(model: type[BaseModel]) -> Constraints:
    """Every constraint of a message class, for the vectorised decoder (``lakehouse.batch_codec``)."""
    unsupported: list[str] = []
    checks = _checks_of(model, (), [], unsupported)
    return Constraints(tuple(checks), tuple(unsupported))
