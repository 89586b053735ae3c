"""The commit's fence (step 2 of ``ingest.writer``): rows of owned partitions at or past the lake's offsets."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.writer import OFFSET_COLUMN, PARTITION_COLUMN, _unlanded


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 6), st.integers(0, 50)), max_size=60),
    st.dictionaries(st.integers(0, 8), st.integers(0, 60), max_size=6),
    st.dictionaries(st.integers(0, 8), st.integers(0, 60), max_size=6),
)
def test_the_fence_keeps_exactly_the_unlanded_rows_of_owned_partitions(
    rows: list[tuple[int, int]], landed: dict[int, int], owned: dict[int, int]
) -> None:
    table = pa.table(
        {
            "i": list(range(len(rows))),
            PARTITION_COLUMN: pa.array([p for p, _ in rows], pa.int32()),
            OFFSET_COLUMN: pa.array([o for _, o in rows], pa.int64()),
        }
    )
    kept = _unlanded(table, landed, owned)
    expected = [i for i, (p, o) in enumerate(rows) if p in owned and o >= landed.get(p, 0)]
    assert kept.column("i").to_pylist() == expected
    assert kept.schema == table.schema
    if len(expected) == len(rows):
        assert kept is table, "nothing fenced off: the rows themselves, not a copy"
