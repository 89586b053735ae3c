"""Decode a batch of JSON messages straight into Arrow columns, validated against the whole contract.

Fast path: Arrow's C++ JSON reader parses the batch against the schema derived from the message class
(types, required fields, no unknown or repeated fields), then every constraint the class declares
(``lakehouse.derive.constraints``: bounds, lengths, finite numbers, enum values, the RFC 3339 timestamp, the
characters text admits) is checked with vectorised compute (the text check only for a batch whose bytes do
not prove it already: ``schemas.plain_json``). The fast path is only ever allowed to be *narrower* than the
contract: whatever it cannot prove valid (a message Arrow cannot parse, a suspect row, a model with a
constraint it does not know) goes to the slow path, where pydantic (``lakehouse.codec.decode``) decides and
names the bad field; valid ones are re-encoded in the canonical wire format and parsed again. So both paths
accept exactly the same messages with the same values (``tests/lakehouse/test_batch_codec`` proves it on
generated hostile input)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from typing import cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
from pydantic import BaseModel

from lakehouse.codec import MAX_MESSAGE_BYTES, ContractError, decode, encode
from lakehouse.derive import Check, arrow_json_schema, arrow_parse_schema, constraints
from lakehouse.schemas import PLAIN_TEXT, RFC3339, plain_json


@dataclass
class DecodedBatch:
    """The valid messages as one Arrow table, and the rejected ones with their error, by input index."""

    table: pa.Table
    rows: list[int]  # input index of each table row, ascending
    rejected: list[tuple[int, ContractError]] = field(default_factory=list)


@cache
def _parse_options(model: type[BaseModel]) -> pj.ParseOptions:
    return pj.ParseOptions(explicit_schema=arrow_json_schema(model), unexpected_field_behavior="error")


def _utf8(data: bytes) -> bool:
    """Valid UTF-8 (Arrow's JSON reader does not check: an overlong NUL or ESC, a lone continuation byte or
    an encoded surrogate would reach the table, past the text check, and break every reader of it)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _framed(value: object) -> bool:
    """A message Arrow may see: one JSON object on one line, in valid UTF-8. Anything else (``null`` alone
    makes Arrow's reader crash the process; a byte-order mark or a bare number it would accept) is
    pydantic's to judge."""
    return (
        isinstance(value, bytes)
        and len(value) <= MAX_MESSAGE_BYTES
        and value[:1] == b"{"
        and value[-1:] == b"}"
        and b"\n" not in value
        and b"\r" not in value
        and _utf8(value)
    )


def _all_framed(values: Sequence[bytes | None]) -> bytes | None:
    """The batch joined by newlines if every message is framed (see ``_framed``), else None; checked on
    the joined batch in a few vectorised passes instead of a Python call per message."""
    try:
        data = b"\n".join(values)  # type: ignore[arg-type]
    except TypeError:  # a message without a value (None)
        return None
    if b"\r" in data:
        return None
    buf = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(buf == 0x0A)
    if len(newlines) != len(values) - 1 or len(buf) == 0:
        return None  # a message holds a newline (or the batch is one empty message)
    ends = np.append(newlines, len(buf))
    starts = np.insert(newlines + 1, 0, 0)
    if np.any(ends - starts > MAX_MESSAGE_BYTES) or np.any(ends == starts):
        return None
    if np.all(buf[starts] == 0x7B) and np.all(buf[ends - 1] == 0x7D) and _utf8(data):  # "{" ... "}"
        return data
    return None


def _parse(model: type[BaseModel], values: list[bytes], joined: bytes | None = None) -> pa.Table | None:
    """One Arrow table with a row per value (``joined``: the values already joined by newlines), or None
    when Arrow refuses any of them."""
    data = b"\n".join(values) if joined is None else joined
    try:
        table = pj.read_json(
            io.BytesIO(data),
            # 2 MiB blocks parse faster than one large block, even on one thread (and a message is at
            # most MAX_MESSAGE_BYTES, so it always fits in a block).
            read_options=pj.ReadOptions(use_threads=True, block_size=2 * MAX_MESSAGE_BYTES),
            parse_options=_parse_options(model),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError):
        return None
    return table if table.num_rows == len(values) else None


def _parse_isolating(
    model: type[BaseModel], values: list[bytes], index: list[int], joined: bytes | None = None
) -> tuple[list[pa.Table], list[int], list[int]]:
    """Parse ``values[index]``, bisecting around messages Arrow refuses, so one bad message costs a few
    re-parses of its neighbours instead of sending the whole batch down the slow path.

    Returns the parsed tables, the input index of each of their rows, and the indexes Arrow refused."""
    tables: list[pa.Table] = []
    rows: list[int] = []
    refused: list[int] = []
    pending = [index] if index else []
    while pending:
        part = pending.pop()
        whole = joined is not None and len(part) == len(values)
        table = _parse(model, values if whole else [values[i] for i in part], joined if whole else None)
        if table is not None:
            tables.append(table)
            rows += part
        elif len(part) == 1:
            refused += part
        else:
            half = len(part) // 2
            pending += [part[half:], part[:half]]  # popped first half first: rows stay in input order
    return tables, rows, refused


def _column(table: pa.Table, path: tuple[str, ...]) -> tuple[pa.Array, np.ndarray]:
    """The values at ``path`` (``"[]"`` descends into a list) and the row each value belongs to."""
    arr: pa.Array = table.column(path[0]).combine_chunks()
    rows = np.arange(len(arr))
    for step in path[1:]:
        if step == "[]":
            parents = pc.list_parent_indices(arr).to_numpy()
            arr = pc.list_flatten(arr)
            rows = rows[parents]
        else:
            arr = pc.struct_field(arr, step)
    return arr, rows


def _bad(condition: pa.Array) -> np.ndarray:
    """A boolean mask from an Arrow condition; null (an optional value that is absent) is not bad."""
    return np.asarray(pc.fill_null(condition, False).to_numpy(zero_copy_only=False), dtype=bool)


def _violations(table: pa.Table, check: Check) -> np.ndarray:
    """Rows of ``table`` breaking ``check`` (time columns are checked by ``_times``)."""
    arr, rows = _column(table, check.path)
    if len(arr) == 0:
        return np.empty(0, dtype=np.int64)
    bad = np.zeros(len(arr), dtype=bool)
    if check.finite:
        bad |= _bad(pc.invert(pc.is_finite(arr)))
    for op, bound in ((pc.less, check.ge), (pc.less_equal, check.gt)):
        if bound is not None:
            bad |= _bad(op(arr, bound))
    for op, bound in ((pc.greater, check.le), (pc.greater_equal, check.lt)):
        if bound is not None:
            bad |= _bad(op(arr, bound))
    if check.min_length is not None or check.max_length is not None:
        length = pc.utf8_length(arr) if pa.types.is_string(arr.type) else pc.list_value_length(arr)
        if check.min_length is not None:
            bad |= _bad(pc.less(length, check.min_length))
        if check.max_length is not None:
            bad |= _bad(pc.greater(length, check.max_length))
    if check.pattern is not None:
        bad |= _bad(pc.invert(pc.match_substring_regex(arr, check.pattern)))  # RE2: the same syntax
    if check.choices is not None:
        # is_in answers false (not null) for a null, which an optional enum field may be
        outside = pc.invert(pc.is_in(arr, pa.array(check.choices, arr.type)))
        bad |= _bad(pc.and_kleene(pc.is_valid(arr), outside))
    return np.unique(rows[bad])


_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
_US_PER_S = 1_000_000
# The fast path accepts only times whose UTC value lies in years 1..9999 (what Python's datetime holds).
_MIN_US = -62_135_596_800 * _US_PER_S  # 0001-01-01T00:00:00Z
_MAX_US = 253_402_300_800 * _US_PER_S  # 10000-01-01T00:00:00Z (exclusive)


def _days_from_civil(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm, vectorised)."""
    y = y - (m <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    doy = (153 * (m + np.where(m > 2, -3, 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return np.asarray(era * 146_097 + doe - 719_468, dtype=np.int64)


def _digits(strings: pa.Array) -> np.ndarray:
    """Decimal digit strings as integers; an absent optional group (null or empty) is 0."""
    strings = pc.fill_null(strings, "")
    strings = pc.if_else(pc.equal(strings, ""), "0", strings)
    return np.asarray(pc.cast(strings, pa.int64()).to_numpy(), dtype=np.int64)


def _time_fields(strings: pa.Array) -> tuple[pa.Array, np.ndarray]:
    parts = pc.extract_regex(strings, RFC3339.pattern)  # null where the string is not RFC 3339
    matched = np.asarray(parts.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    if not matched.any():
        zeros = pa.array(np.zeros(len(strings), dtype=np.int64)).cast(pa.timestamp("us", tz="UTC"))
        return zeros, np.ones(len(strings), dtype=bool)
    # The fields of a row that did not match are empty strings, read as 0 below; the row is invalid anyway.
    names = ("year", "month", "day", "hour", "minute", "second", "off_h", "off_m")
    y, mo, d, h, mi, s, off_h, off_m = (_digits(parts.field(k)) for k in names)
    fraction = pc.utf8_slice_codeunits(pc.fill_null(parts.field("fraction"), ""), 0, 3)
    ms = _digits(pc.utf8_rpad(fraction, 3, "0"))  # milliseconds, truncated like schemas._utc_ms
    sign = np.where(_bad(pc.equal(parts.field("sign"), "-")), -1, 1)
    month_ok = (mo >= 1) & (mo <= 12)
    leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
    dim = _DAYS_IN_MONTH[np.clip(mo, 0, 12)] + ((mo == 2) & leap)
    valid = (
        matched
        & (y >= 1)
        & month_ok
        & (d >= 1)
        & (d <= dim)
        & (h <= 23)
        & (mi <= 59)
        & (s <= 59)
        & (off_h <= 23)
        & (off_m <= 59)
    )
    offset = sign * (off_h * 3_600 + off_m * 60)
    seconds = _days_from_civil(y, mo, d) * 86_400 + h * 3_600 + mi * 60 + s - offset
    micros = seconds * _US_PER_S + ms * 1_000
    valid &= (micros >= _MIN_US) & (micros < _MAX_US)
    # Rows that are not valid times hold 0 here; they are dropped (or sent to pydantic) by the caller.
    return pa.array(np.where(valid, micros, 0), type=pa.int64()).cast(pa.timestamp("us", tz="UTC")), ~valid


def _checked(model: type[BaseModel], table: pa.Table, plain: bool) -> tuple[pa.Table, np.ndarray]:
    """Check every constraint; the table with its times converted, and the rows that broke any. ``plain``:
    the messages' bytes prove the contract's text check (``schemas.plain_json``), which is then skipped."""
    suspects = [np.empty(0, dtype=np.int64)]
    columns = {}
    for check in constraints(model).checks:
        if plain and check.pattern == PLAIN_TEXT and not check.time:
            check = replace(check, pattern=None)
        if check.time:
            name = check.path[0]
            converted, bad = _time_fields(table.column(name).combine_chunks())
            columns[name] = converted
            suspects.append(np.flatnonzero(bad))
        else:
            suspects.append(_violations(table, check))
    for name, converted in columns.items():
        table = table.set_column(table.schema.get_field_index(name), name, converted)
    return table.cast(arrow_parse_schema(model)), np.unique(np.concatenate(suspects))


def _fast(
    model: type[BaseModel], values: list[bytes], index: list[int], joined: bytes | None = None
) -> tuple[pa.Table | None, list[int], list[int]]:
    """The fast path over ``values[index]``: the table of the rows it proves valid, the input index of
    each of those rows, and the indexes it could not prove valid (unparseable or breaking a check)."""
    parsed, parsed_rows, refused = _parse_isolating(model, values, index, joined)
    if not parsed:
        return None, [], refused
    data = joined if joined is not None and len(index) == len(values) else b"".join(values[i] for i in index)
    table, bad = _checked(model, pa.concat_tables(parsed) if len(parsed) > 1 else parsed[0], plain_json(data))
    if not len(bad):
        return table, parsed_rows, refused
    keep = np.ones(table.num_rows, dtype=bool)
    keep[bad] = False
    row_index = np.asarray(parsed_rows, dtype=np.int64)
    return table.filter(pa.array(keep)), row_index[keep].tolist(), refused + row_index[bad].tolist()


def decode_batch(model: type[BaseModel], values: Sequence[bytes | None]) -> DecodedBatch:
    """Decode ``values`` (one JSON message each) into an Arrow table of the model's schema."""
    if not values:
        return DecodedBatch(arrow_parse_schema(model).empty_table(), [])
    tables: list[pa.Table] = []
    rows: list[int] = []
    suspects: list[int]
    if constraints(model).unsupported:
        suspects = list(range(len(values)))
    else:
        joined = _all_framed(values)
        if joined is not None:
            framed, suspects = list(range(len(values))), []
        else:
            flags = [_framed(v) for v in values]
            framed = [i for i, ok in enumerate(flags) if ok]
            suspects = [i for i, ok in enumerate(flags) if not ok]
        # only framed messages (bytes) are parsed: the index says which
        table, accepted, unproven = _fast(model, cast(list[bytes], values), framed, joined)
        suspects += unproven
        if table is not None:
            tables.append(table)
            rows += accepted

    # Slow path: pydantic decides; what it accepts is re-encoded canonically and parsed again.
    rejected: list[tuple[int, ContractError]] = []
    repaired: list[int] = []
    canonical: list[bytes] = []
    for i in sorted(suspects):
        try:
            canonical.append(encode(decode(model, values[i])))
            repaired.append(i)
        except ContractError as exc:
            rejected.append((i, exc))
    if canonical:
        # A canonical encoding always passes the fast checks; should one ever not, the decoders disagree:
        # the message is dead-lettered with that reason rather than landed unchecked or crashing the worker.
        table, accepted, failed = _fast(model, canonical, list(range(len(canonical))))
        if table is not None:
            tables.append(table)
            rows += [repaired[j] for j in accepted]
        for j in failed:
            reason = "accepted by the contract's model but not by its column checks (decoders disagree)"
            rejected.append((repaired[j], ContractError(model.__name__, "$", reason)))
        rejected.sort(key=lambda r: r[0])

    if not tables:
        return DecodedBatch(arrow_parse_schema(model).empty_table(), [], rejected)
    table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    if len(tables) > 1 or rows != sorted(rows):
        order = np.argsort(np.asarray(rows, dtype=np.int64), kind="stable")
        table = table.take(pa.array(order))
        rows = np.asarray(rows, dtype=np.int64)[order].tolist()
    return DecodedBatch(table, rows, rejected)
