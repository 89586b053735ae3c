"""The writer's commit protocol against the real catalog: offsets, fencing and the optimistic retry."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.table import Table
from pyiceberg.table.update import update_table_metadata

from ingest.writer import (
    ExactlyOnceWriter,
    TableBatch,
    WriterConfig,
    _write,
    committed_offsets,
)
from lakehouse.adapters.iceberg import MemoTransaction
from lakehouse.catalog import load_catalog
from lakehouse.schemas import CitizenObservation
from lakehouse.settings import Settings
from lakehouse.tables import TableSpec, ensure_table
from testkit.writer_rows import rows

TOPIC = "writer-test"


Lake = tuple[TableSpec, Catalog, str]


@pytest.fixture()
def spec_and_catalog(stack: Settings) -> Iterator[Lake]:
    spec = TableSpec("raw", f"writer_{uuid.uuid4().hex[:8]}", CitizenObservation)
    catalog = load_catalog(stack)
    ensure_table(catalog, spec, stack)
    yield spec, catalog, spec.identifier(stack)
    catalog.purge_table(spec.identifier(stack))


def count(catalog: Catalog, ident: str) -> int:
    return int(catalog.load_table(ident).scan().to_arrow().num_rows)


def test_offsets_land_in_the_same_snapshot_as_the_rows(spec_and_catalog: Lake) -> None:
    spec, catalog, ident = spec_and_catalog
    writer = ExactlyOnceWriter(catalog, TOPIC, {spec: ident})
    writer.commit({spec: TableBatch(pa.concat_tables([rows(0, 0, 10), rows(1, 0, 5)]))}, {0: 10, 1: 5})
    table = catalog.load_table(ident)
    assert committed_offsets(table, TOPIC) == {0: 10, 1: 5}
    snapshot = table.current_snapshot()
    assert snapshot is not None and snapshot.summary is not None
    assert snapshot.summary["added-records"] == "15"
    # A second commit for partition 1 only still carries partition 0's offset: the newest snapshot is enough.
    writer.commit({spec: TableBatch(rows(1, 5, 8))}, {1: 8})
    assert committed_offsets(catalog.load_table(ident), TOPIC) == {0: 10, 1: 8}
    assert writer.start_offsets([0, 1, 2]) == {0: 10, 1: 8}


def test_replayed_batch_lands_nothing_twice(spec_and_catalog: Lake) -> None:
    spec, catalog, ident = spec_and_catalog
    writer = ExactlyOnceWriter(catalog, TOPIC, {spec: ident})
    writer.commit({spec: TableBatch(rows(0, 0, 100))}, {0: 100})
    # The same messages again, plus 50 new ones (a restart before the Kafka commit).
    [result] = writer.commit({spec: TableBatch(rows(0, 0, 150))}, {0: 150})
    assert (result.rows, result.skipped_rows) == (50, 100)
    assert count(catalog, ident) == 150


class StaleOnce:
    """A catalog whose first load returns a table read before another writer committed."""

    def __init__(self, catalog: Catalog, stale: Table) -> None:
        self.catalog = catalog
        self.stale: Table | None = stale

    def load_table(self, ident: str) -> Table:
        if self.stale is not None:
            table, self.stale = self.stale, None
            return table
        return self.catalog.load_table(ident)


def test_conflicting_writer_is_refused_then_refenced(spec_and_catalog: Lake) -> None:
    spec, catalog, ident = spec_and_catalog
    before = catalog.load_table(ident)
    winner = ExactlyOnceWriter(catalog, TOPIC, {spec: ident})
    winner.commit({spec: TableBatch(rows(0, 0, 100))}, {0: 100})
    # The loser read the table before the winner committed: its optimistic commit is refused by the
    # catalog, it re-reads the offsets and lands only what the winner did not.
    loser = ExactlyOnceWriter(StaleOnce(catalog, before), TOPIC, {spec: ident})  # type: ignore[arg-type]
    [result] = loser.commit({spec: TableBatch(rows(0, 50, 130))}, {0: 130})
    assert result.attempts == 2
    assert (result.rows, result.skipped_rows) == (30, 50)
    assert count(catalog, ident) == 130
    assert committed_offsets(catalog.load_table(ident), TOPIC) == {0: 130}


def test_partitions_not_owned_are_never_committed(spec_and_catalog: Lake) -> None:
    spec, catalog, ident = spec_and_catalog
    writer = ExactlyOnceWriter(catalog, TOPIC, {spec: ident})
    batch = pa.concat_tables([rows(0, 0, 10), rows(1, 0, 10)])
    [result] = writer.commit({spec: TableBatch(batch)}, {0: 10, 1: 10}, owned=lambda p: p == 0)
    assert result.rows == 10
    assert committed_offsets(catalog.load_table(ident), TOPIC) == {0: 10}


def test_old_snapshots_are_expired_in_the_commit(spec_and_catalog: Lake) -> None:
    spec, catalog, ident = spec_and_catalog
    writer = ExactlyOnceWriter(
        catalog, TOPIC, {spec: ident}, WriterConfig(retain_snapshots=5, expire_batch=3)
    )
    for i in range(12):
        writer.commit({spec: TableBatch(rows(0, i * 10, i * 10 + 10))}, {0: i * 10 + 10})
    table = catalog.load_table(ident)
    assert len(table.metadata.snapshots) <= 5 + 3
    assert count(catalog, ident) == 120
    assert committed_offsets(table, TOPIC) == {0: 120}


def test_prewritten_files_are_committed_as_they_are(spec_and_catalog: Lake) -> None:
    """Data files written ahead of the commit (while consuming) are added, not written again."""
    spec, catalog, ident = spec_and_catalog
    writer = ExactlyOnceWriter(catalog, TOPIC, {spec: ident})
    segment = rows(0, 0, 100)
    files = writer.write_files(spec, segment)
    assert files and sum(f.record_count for f in files) == 100
    [result] = writer.commit({spec: TableBatch(rows(0, 100, 120), [(segment, files)])}, {0: 120})
    assert (result.rows, result.skipped_rows) == (120, 0)
    table = catalog.load_table(ident)
    paths = set(table.inspect.files().column("file_path").to_pylist())
    assert {f.file_path for f in files} <= paths, "the pre-written files are the table's"
    assert count(catalog, ident) == 120


def test_a_prewritten_segment_that_overlaps_the_lake_is_written_again(spec_and_catalog: Lake) -> None:
    """A replay whose pre-written segment holds rows already landed: its files are dropped and only the
    rows not landed are written, so nothing lands twice."""
    spec, catalog, ident = spec_and_catalog
    writer = ExactlyOnceWriter(catalog, TOPIC, {spec: ident})
    writer.commit({spec: TableBatch(rows(0, 0, 60))}, {0: 60})
    segment = rows(0, 0, 100)
    files = writer.write_files(spec, segment)
    [result] = writer.commit({spec: TableBatch(rows(0, 100, 110), [(segment, files)])}, {0: 110})
    assert (result.rows, result.skipped_rows) == (50, 60)
    table = catalog.load_table(ident)
    paths = set(table.inspect.files().column("file_path").to_pylist())
    assert not ({f.file_path for f in files} & paths), "the overlapping segment's files are orphans"
    report_ids = table.scan().to_arrow().column("report_id").to_pylist()
    assert len(report_ids) == len(set(report_ids)) == 110


def test_the_transaction_sees_every_staged_change(spec_and_catalog: Lake) -> None:
    """The writer's transaction builds its pending metadata once per change (pyiceberg rebuilds it on every
    read); it must still equal pyiceberg's own answer after each change."""
    _spec, catalog, ident = spec_and_catalog
    table = catalog.load_table(ident)
    tx = MemoTransaction(table)
    first = tx.table_metadata
    assert tx.table_metadata is first, "read twice without a change: built once"
    tx.set_properties({"harmony.test": "1"})
    assert tx.table_metadata.properties["harmony.test"] == "1"
    update = tx.update_snapshot().fast_append()
    for data_file in _write(table, tx.table_metadata, rows(0, 0, 10), _spec, update.commit_uuid):
        update.append_data_file(data_file)
    update.commit()
    expected = update_table_metadata(table.metadata, tx._updates)
    assert tx.table_metadata.model_dump(exclude={"last_updated_ms"}) == expected.model_dump(
        exclude={"last_updated_ms"}
    )
    assert tx.table_metadata.current_snapshot_id != table.metadata.current_snapshot_id
    tx.commit_transaction()
    assert count(catalog, ident) == 10


def test_manifests_stay_few_however_many_commits(spec_and_catalog: Lake) -> None:
    """Each append adds a manifest; merging keeps the count bounded, so commits do not slow as the table
    ages, and no row is lost or doubled by a merge."""
    spec, catalog, ident = spec_and_catalog
    writer = ExactlyOnceWriter(catalog, TOPIC, {spec: ident})
    for i in range(40):
        writer.commit({spec: TableBatch(rows(0, i * 5, i * 5 + 5))}, {0: i * 5 + 5})
    table = catalog.load_table(ident)
    snapshot = table.current_snapshot()
    assert snapshot is not None
    manifests = snapshot.manifests(table.io)
    assert len(manifests) < 16 + 4, f"{len(manifests)} manifests after 40 appends"
    report_ids = table.scan().to_arrow().column("report_id").to_pylist()
    assert len(report_ids) == len(set(report_ids)) == 200
