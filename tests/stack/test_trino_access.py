"""The dashboard's Trino user is read-only on the lake, by Trino's own rules (not only the page's)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import trino.exceptions

from lakehouse.query import trino_sql
from lakehouse.settings import Settings


def as_dashboard(settings: Settings, statement: str) -> list[list[object]]:
    conn = trino_sql.connect(
        settings, user=settings.dashboard.trino_user, catalog=settings.catalog.read_only_name
    )
    try:
        cur = conn.cursor()
        cur.execute(statement)
        return [list(r) for r in cur.fetchall()]
    finally:
        conn.close()  # type: ignore[no-untyped-call]


@pytest.fixture(scope="module")
def table(stack: Settings) -> Iterator[str]:
    """A table the admin user creates in a private schema (the dashboard's user then tries to change it)."""
    schema = f"access_{uuid.uuid4().hex[:6]}"
    trino_sql.query(f"CREATE SCHEMA {schema}", stack)
    trino_sql.query(f"CREATE TABLE {schema}.t AS SELECT 1 AS x", stack)
    yield f"{schema}.t"
    trino_sql.query(f"DROP TABLE {schema}.t", stack)
    trino_sql.query(f"DROP SCHEMA {schema}", stack)


def test_the_dashboard_user_reads_the_lake(stack: Settings, table: str) -> None:
    assert as_dashboard(stack, f"SELECT x FROM {table}") == [[1]]


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO {t} VALUES (2)",
        "DROP TABLE {t}",
        "DELETE FROM {t}",
        "CREATE TABLE {t}_copy AS SELECT * FROM {t}",
        "ALTER TABLE {t} ADD COLUMN y integer",
        "CALL system.rollback_to_snapshot('{schema}', 't', 1)",
        "ALTER TABLE {t} EXECUTE optimize",
        "SELECT * FROM {lake}.{t}",
        "SELECT * FROM system.runtime.queries",
        "SET SESSION query_max_execution_time = '1h'",
    ],
)
def test_trino_refuses_the_dashboard_user_anything_else(stack: Settings, table: str, statement: str) -> None:
    """Refused by Trino before it runs: a statement its parser types as a write, DDL, CALL or SET by the
    resource groups; a read outside the read-only catalog by the access rules."""
    with pytest.raises(trino.exceptions.TrinoQueryError) as refused:
        as_dashboard(stack, statement.format(t=table, schema=table.split(".")[0], lake=stack.catalog.name))
    assert (
        trino_sql.refused_as_not_a_read(refused.value)
        or refused.value.error_name in {"PERMISSION_DENIED", "ACCESS_DENIED"}
        or "Access Denied" in str(refused.value)
    ), refused.value
    assert trino_sql.query(f"SELECT count(*) FROM {table}", stack) == [[1]]


def test_the_dashboard_user_has_the_server_limits(stack: Settings) -> None:
    rows = as_dashboard(stack, "SHOW SESSION LIKE 'query_max_execution_time'")
    assert rows and rows[0][1] == f"{stack.dashboard.query_timeout_s}.00s", rows
