"""Decode a batch of JSON messages straight into Arrow columns, validated against the contract.

Fast path: Arrow's C++ JSON reader parses the whole batch against the schema derived from the message
class (types, required fields, no unknown fields), then every range and length constraint of the class
is checked with vectorised compute. Slow path, only for batches or rows the fast path rejects: each
message is decoded by pydantic, which names the first bad field; valid ones are re-encoded in the
canonical wire format and parsed again. Both paths come from the same class, so they agree.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
from pydantic import BaseModel

from lakehouse.codec import MAX_MESSAGE_BYTES, ContractError, decode, encode
from lakehouse.derive import Bound, arrow_parse_schema, bounds


@dataclass
class DecodedBatch:
    """The valid messages as one Arrow table, and the rejected ones with their error, by input index."""

    table: pa.Table
    rows: list[int]  # input index of each table row
    rejected: list[tuple[int, ContractError]] = field(default_factory=list)


@cache
def _parse_options(model: type[BaseModel]) -> pj.ParseOptions:
    return pj.ParseOptions(explicit_schema=arrow_parse_schema(model), unexpected_field_behavior="error")


def _parse(model: type[BaseModel], values: list[bytes]) -> pa.Table:
    data = b"\n".join(values)
    return pj.read_json(
        io.BytesIO(data),
        read_options=pj.ReadOptions(use_threads=True, block_size=max(1 << 20, len(data) + 1)),
        parse_options=_parse_options(model),
    )


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


def _violations(table: pa.Table, bound: Bound) -> np.ndarray:
    """Rows of ``table`` breaking ``bound``."""
    arr, rows = _column(table, bound.path)
    if len(arr) == 0:
        return np.empty(0, dtype=np.int64)
    bad = np.zeros(len(arr), dtype=bool)
    if bound.ge is not None:
        bad |= pc.less(arr, bound.ge).to_numpy(zero_copy_only=False)
    if bound.le is not None:
        bad |= pc.greater(arr, bound.le).to_numpy(zero_copy_only=False)
    if bound.min_length is not None or bound.max_length is not None:
        length = (
            pc.utf8_length(arr) if pa.types.is_string(arr.type) else pc.list_value_length(arr)
        ).to_numpy(zero_copy_only=False)
        if bound.min_length is not None:
            bad |= length < bound.min_length
        if bound.max_length is not None:
            bad |= length > bound.max_length
    return np.unique(rows[bad])


def _fast(model: type[BaseModel], values: list[bytes]) -> tuple[pa.Table, np.ndarray] | None:
    """Parse and check the whole batch; None when the batch does not even parse."""
    if any(v is None or len(v) > MAX_MESSAGE_BYTES or b"\n" in v for v in values):
        return None
    try:
        table = _parse(model, values)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if table.num_rows != len(values):
        return None
    suspects = [_violations(table, b) for b in bounds(model)]
    return table, (np.unique(np.concatenate(suspects)) if suspects else np.empty(0, dtype=np.int64))


def decode_batch(model: type[BaseModel], values: list[bytes]) -> DecodedBatch:
    """Decode ``values`` (one JSON message each) into an Arrow table of the model's schema."""
    if not values:
        return DecodedBatch(arrow_parse_schema(model).empty_table(), [])
    fast = _fast(model, values)
    if fast is not None and len(fast[1]) == 0:
        return DecodedBatch(fast[0], list(range(len(values))))
    suspects = range(len(values)) if fast is None else fast[1].tolist()
    rejected: list[tuple[int, ContractError]] = []
    repaired: dict[int, bytes] = {}
    for i in suspects:
        try:
            repaired[i] = encode(decode(model, values[i]))
        except ContractError as exc:
            rejected.append((i, exc))
    bad = {i for i, _ in rejected}
    keep = [i for i in range(len(values)) if i not in bad]
    # Re-encoded messages are in the canonical wire format, which the fast path always parses.
    table = (
        _parse(model, [repaired.get(i, values[i]) for i in keep])
        if keep
        else arrow_parse_schema(model).empty_table()
    )
    return DecodedBatch(table, keep, rejected)
