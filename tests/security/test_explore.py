"""Explore, attacked: every statement of the corpus is refused by Trino and by embedded DuckDB, as the
dashboard runs them (its read-only identities, the page's own query path), and none leaves a trace.

DuckDB answers when Trino is unreachable, so the DuckDB half runs with Trino's port pointing nowhere:
the fallback an attacker gets by waiting for (or causing) a Trino outage.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
import trino.exceptions

from dashboard import lake
from lakehouse.catalog import load_catalog
from lakehouse.query.engines import Engine
from lakehouse.settings import Settings
from lakehouse.tables import purge_namespace
from testkit.browser import free_port
from testkit.lakes import settings_seen_by
from tests.security.corpus import ATTACKS


@dataclass(frozen=True)
class Target:
    trino: Settings  # the dashboard's settings, Trino up
    duckdb: Settings  # the same, Trino unreachable: the page falls back to DuckDB
    reports: str  # a table of the lake the attacks aim at
    snapshot: int


@pytest.fixture(scope="module")
def target(stack: Settings) -> Iterator[Target]:
    namespace = f"test_security_{uuid.uuid4().hex[:8]}"
    catalog = load_catalog(stack)
    catalog.create_namespace(namespace)
    table = catalog.create_table(f"{namespace}.reports", pa.schema([("drone_id", pa.string())]))
    table.append(pa.table({"drone_id": ["drone-1", "drone-2"]}))
    env = {**os.environ, **stack.reader_environment(), "HARMONY_CATALOG__RAW_NAMESPACE": namespace}
    try:
        snapshot = table.refresh().metadata.current_snapshot_id
        assert snapshot is not None
        yield Target(
            trino=settings_seen_by(env),
            duckdb=settings_seen_by({**env, "HARMONY_TRINO__HTTPS_PORT": str(free_port())}),
            reports=f"{namespace}.reports",
            snapshot=snapshot,
        )
    finally:
        purge_namespace(catalog, namespace)


def secrets_of(settings: Settings) -> list[str]:
    return [
        settings.s3.access_key.get_secret_value(),
        settings.s3.secret_key.get_secret_value(),
        settings.postgres.password.get_secret_value(),
    ]


@pytest.mark.parametrize("engine", [Engine.TRINO, Engine.DUCKDB])
@pytest.mark.parametrize("attack", ATTACKS)
def test_explore_refuses(
    stack: Settings, target: Target, tmp_path: Path, engine: Engine, attack: str
) -> None:
    settings = target.trino if engine is Engine.TRINO else target.duckdb
    statement = attack.format(tmp=tmp_path, reports=target.reports, lake=stack.catalog.name)
    with pytest.raises((lake.QueryRefused, trino.exceptions.TrinoQueryError, duckdb.Error)) as refused:
        answered = lake.query(statement, settings, max_rows=10)
        pytest.fail(f"{engine} ran it on {answered.result.engine}: {answered.result.rows[:3]}")
    if engine is Engine.TRINO:
        assert not isinstance(refused.value, duckdb.Error), "Trino was up: DuckDB must not have answered"
    message = lake.one_line(refused.value)
    assert not any(secret in message for secret in secrets_of(stack)), message
    assert list(tmp_path.iterdir()) == [], "a refused statement wrote a file"
    table = load_catalog(stack).load_table(target.reports)
    assert table.metadata.current_snapshot_id == target.snapshot, "a refused statement changed the lake"
    assert [f.name for f in table.schema().fields] == ["drone_id"]


@pytest.mark.parametrize("engine", [Engine.TRINO, Engine.DUCKDB])
def test_explore_still_reads_the_lake(target: Target, engine: Engine) -> None:
    """The refusals are not a page that refuses everything: the same path reads the table."""
    settings = target.trino if engine is Engine.TRINO else target.duckdb
    answered = lake.query(f"SELECT drone_id FROM {target.reports} ORDER BY 1", settings)
    assert answered.result.engine is engine
    assert answered.result.rows == [("drone-1",), ("drone-2",)]


def test_the_dashboards_duckdb_cannot_write_the_lake_even_unlocked(stack: Settings, target: Target) -> None:
    """Below the parser and the lock, the key itself: the read-only identity MinIO refuses a write."""
    from lakehouse.query import duck

    con = duck.connect(target.duckdb)
    try:
        with pytest.raises(duckdb.Error, match=r"403|Forbidden|Access Denied|AccessDenied"):
            con.execute(f"COPY (SELECT 1 AS x) TO '{stack.warehouse}stolen-{uuid.uuid4().hex}.csv'")
    finally:
        con.close()
