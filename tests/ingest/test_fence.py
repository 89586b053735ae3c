"""The commit's fence (step 2 of ``ingest.writer``): rows of owned partitions at or past the lake's offsets,
pre-written segments whole or not at all. Server-free; the fence on the real lake, with zombies and
rebalances, is tests/ingest/test_writer.py and test_exactly_once.py."""

from __future__ import annotations

from typing import Any, cast

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st
from pyiceberg.manifest import DataFile

from ingest.writer import OFFSET_COLUMN, PARTITION_COLUMN, TableBatch, _unlanded, fence
from testkit.writer_rows import rows as report_rows


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


def offsets(table: pa.Table) -> list[tuple[int, int]]:
    return sorted(zip(table[PARTITION_COLUMN].to_pylist(), table[OFFSET_COLUMN].to_pylist(), strict=True))


def file(name: str) -> DataFile:
    return cast(DataFile, cast(Any, name))  # the fence passes files through, never reads them


def test_only_owned_partitions_and_offsets_not_yet_landed_pass() -> None:
    batch = TableBatch(pa.concat_tables([report_rows(0, 0, 10), report_rows(1, 0, 10), report_rows(2, 0, 4)]))
    got = fence(batch, landed={0: 6, 2: 4}, mine={0: 10, 2: 4})  # partition 1 was revoked
    assert offsets(got.rows) == [(0, o) for o in range(6, 10)]
    assert got.advanced == {0: 10}, "partition 2 is landed to its end: nothing to advance"
    assert got.landing == 4 and got.ready == ()


def test_a_prewritten_segment_is_kept_whole_or_written_again() -> None:
    whole, overlapping = report_rows(0, 10, 20), report_rows(1, 0, 10)
    batch = TableBatch(report_rows(0, 20, 25), [(whole, [file("a"), file("b")]), (overlapping, [file("c")])])
    got = fence(batch, landed={0: 10, 1: 4}, mine={0: 25, 1: 10})
    assert got.ready == (file("a"), file("b")), "every row of the first segment passes: its files are used"
    assert offsets(got.rows) == [(0, o) for o in range(20, 25)] + [(1, o) for o in range(4, 10)]
    assert got.landing == 10 + 5 + 6 and got.advanced == {0: 25, 1: 10}


def test_a_batch_landed_already_lands_nothing() -> None:
    batch = TableBatch(report_rows(0, 0, 10), [(report_rows(0, 10, 12), [file("a")])])
    got = fence(batch, landed={0: 12}, mine={0: 12})
    assert got.landing == 0 and got.advanced == {} and got.ready == ()
