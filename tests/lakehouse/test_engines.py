"""One Iceberg table, written by pyiceberg, read back identically by DuckDB and by Trino."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pyarrow as pa
import pytest
from pyiceberg.table import Table

from lakehouse.catalog import load_catalog
from lakehouse.query import duck, trino_sql
from lakehouse.settings import Settings

Written = tuple[str, Table, pa.Table]


@pytest.fixture()
def written_table(stack: Settings) -> Iterator[Written]:
    catalog = load_catalog(stack)
    catalog.create_namespace_if_not_exists("test_engines")
    ident = f"test_engines.t_{uuid.uuid4().hex[:8]}"
    rows = pa.table(
        {
            "id": pa.array(range(1000), pa.int64()),
            "word": pa.array([f"w{i % 17}" for i in range(1000)]),
            "score": pa.array([i % 101 for i in range(1000)], pa.int32()),
            "at": pa.array(
                [datetime(2026, 9, 1, i % 24, tzinfo=UTC) for i in range(1000)], pa.timestamp("us", "UTC")
            ),
        }
    )
    table = catalog.create_table(ident, schema=rows.schema)
    table.append(rows.slice(0, 600))
    table.append(rows.slice(600))
    yield ident, catalog.load_table(ident), rows
    catalog.purge_table(ident)


def test_pyiceberg_reads_back_what_it_appended(written_table: Written) -> None:
    _, table, rows = written_table
    assert table.scan().to_arrow().sort_by("id").equals(rows)
    assert len(table.snapshots()) == 2


def test_duckdb_reads_the_same_rows(stack: Settings, written_table: Written) -> None:
    _, table, rows = written_table
    con = duck.connect(stack)
    got = con.execute(f"SELECT id, word, score FROM {duck.scan(table)} ORDER BY id").fetchall()
    assert got == list(
        zip(rows["id"].to_pylist(), rows["word"].to_pylist(), rows["score"].to_pylist(), strict=True)
    )


def test_trino_reads_the_same_rows(stack: Settings, written_table: Written) -> None:
    ident, _, rows = written_table
    got = trino_sql.query(f"SELECT id, word, score, hour(at) FROM {ident} ORDER BY id", stack)
    want = [
        [i, w, s, a.hour]
        for i, w, s, a in zip(
            rows["id"].to_pylist(),
            rows["word"].to_pylist(),
            rows["score"].to_pylist(),
            rows["at"].to_pylist(),
            strict=True,
        )
    ]
    assert got == want


def test_duckdb_extensions_come_from_pypi_packages() -> None:
    for name in duck.EXTENSIONS:
        path = duck.extension_path(name)
        assert path.is_file() and "site-packages" in str(path)
