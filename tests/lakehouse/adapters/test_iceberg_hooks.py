"""The private names of pyiceberg that ``lakehouse/adapters/iceberg.py`` relies on are still there with the
signatures it calls, and still behave so: server-free, on pyiceberg's own SQLite catalog with a local
warehouse (the writer on the real lake: tests/ingest/test_writer.py)."""

from __future__ import annotations

import inspect
import uuid
from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.io import pyarrow as pyiceberg_arrow
from pyiceberg.table import Table, Transaction

from lakehouse.adapters.iceberg import MemoTransaction, after_metadata_write, write_data_files


@pytest.fixture()
def table(tmp_path: Path) -> tuple[SqlCatalog, Table]:
    catalog = SqlCatalog("hooks", uri=f"sqlite:///{tmp_path / 'catalog.db'}", warehouse=f"file://{tmp_path}")
    catalog.create_namespace("ns")
    return catalog, catalog.create_table("ns.t", pa.schema([pa.field("x", pa.int64(), nullable=False)]))


def test_the_private_names_and_their_signatures() -> None:
    params = inspect.signature(pyiceberg_arrow._dataframe_to_data_files).parameters
    assert {"table_metadata", "write_uuid", "df", "io"} <= set(params)
    assert isinstance(inspect.getattr_static(Transaction, "table_metadata"), property)
    init = inspect.getsource(Transaction.__init__)
    assert "self._table" in init and "self._updates" in init
    assert "self._write_metadata(" in inspect.getsource(SqlCatalog.commit_table)


def test_files_written_apart_and_a_memo_transaction_commit_them(table: tuple[SqlCatalog, Table]) -> None:
    catalog, t = table
    calls: list[str] = []
    after_metadata_write(catalog, lambda: calls.append("written"))
    tx = MemoTransaction(t)
    first = tx.table_metadata
    assert tx.table_metadata is first, "no change: built once"
    update = tx.update_snapshot().fast_append()
    rows = pa.table({"x": pa.array([1, 2, 3], pa.int64())}).cast(t.schema().as_arrow())
    files = write_data_files(t, tx.table_metadata, rows, update.commit_uuid)
    assert [f.record_count for f in files] == [3]
    for f in files:
        update.append_data_file(f)
    update.commit()
    assert tx.table_metadata is not first, "a staged change is seen"
    tx.commit_transaction()
    assert catalog.load_table("ns.t").scan().to_arrow().column("x").to_pylist() == [1, 2, 3]
    assert calls == ["written"], "the failpoint hook ran once, after the commit's metadata file"
    assert uuid.UUID(str(update.commit_uuid))
