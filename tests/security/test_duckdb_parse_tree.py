"""The DuckDB fallback reads only the lake's views, by DuckDB's own parse tree: no table function that
reads, no path or URL as a table. Checked before anything runs, on a locked connection with views of
the same shape as the lake's (no server needed: nothing here is executed)."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

from lakehouse.query import duck


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    c = duckdb.connect(":memory:")
    c.execute("CREATE SCHEMA raw")
    c.execute("CREATE VIEW raw.reports AS SELECT 'drone-1' AS drone_id")
    c.execute("SET enable_external_access = false")
    c.execute("SET lock_configuration = true")
    yield c
    c.close()


@pytest.mark.parametrize(
    "statement",
    [
        "FROM read_text('s3://warehouse/x?s3_endpoint=127.0.0.1:1')",  # the lock lets the prefix through
        "FROM 's3://warehouse/x?s3_endpoint=169.254.169.254:80'",  # a replacement scan
        "SELECT * FROM raw.reports, read_text('s3://warehouse/y')",
        "SELECT (SELECT count(*) FROM glob('/etc/*'))",
        "WITH x AS (FROM read_blob('.env')) SELECT * FROM x",
        "FROM pandas_scan(NULL)",  # would crash the process
        "FROM enable_logging(storage = 'file', storage_path = '/tmp/x')",
        "FROM duckdb_secrets()",
        "FROM read_text('.tmp/*')",
        "SELECT * FROM memory.raw.reports",
        "FROM system.main.duckdb_settings()",
        "FROM iceberg_scan('s3://warehouse/x/metadata/v1.metadata.json')",
        "SELECT * FROM raw.other",
        "DESCRIBE SELECT * FROM read_text('x')",
        "SELECT * FROM (SELECT * FROM query('SELECT 1'))",
    ],
)
def test_reads_outside_the_lake_are_refused_before_they_run(
    con: duckdb.DuckDBPyConnection, statement: str
) -> None:
    with pytest.raises(duck.NotARead, match="only the lake's tables"):
        duck.only_lake_tables(con, statement)


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT drone_id FROM raw.reports",
        "FROM raw.reports",
        "WITH r AS (SELECT * FROM raw.reports) SELECT count(*) FROM r",
        "SELECT * FROM raw.reports, range(3)",
        "SELECT unnest([1, 2])",
        "DESCRIBE raw.reports",
        "SUMMARIZE raw.reports",
        "SELECT 1",
        "VALUES (1), (2)",
    ],
)
def test_queries_of_the_lake_pass(con: duckdb.DuckDBPyConnection, statement: str) -> None:
    duck.only_lake_tables(con, statement)
