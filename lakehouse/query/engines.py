"""One statement on the lake, on Trino (the shared SQL server) or DuckDB (embedded), with the same names.

Both engines see the catalog's namespaces as schemas: ``SELECT * FROM answers.riskiest_zones`` means the
same table on either. Trino resolves it through its Iceberg connector (catalog ``lake``); DuckDB through
views over ``iceberg_scan`` of each table's current metadata, created per connection.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import duckdb
import trino.exceptions

from lakehouse.catalog import load_catalog
from lakehouse.query import duck, trino_sql
from lakehouse.settings import Settings

# What an engine raises for a statement it refuses or cannot run (syntax, a missing table, a server that
# is down); anything else is a bug and keeps its traceback.
QUERY_ERRORS = (trino.exceptions.Error, trino.exceptions.HttpError, duckdb.Error, OSError)


class Engine(StrEnum):
    TRINO = "trino"
    DUCKDB = "duckdb"


@dataclass(frozen=True)
class Result:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    engine: Engine
    seconds: float
    truncated: bool = False  # more rows than ``max_rows``: the rest were not fetched


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def duckdb_lake(settings: Settings, sql: str = "") -> Any:
    """A DuckDB connection where each table of the raw and answers namespaces (and of any other namespace
    ``sql`` names) is a view of the same name."""
    con = duck.connect(settings)
    catalog = load_catalog(settings)
    named = {m.lower() for m in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*\.", sql)}
    wanted = {settings.catalog.raw_namespace, settings.catalog.answers_namespace} | named
    for (namespace,) in catalog.list_namespaces():
        if namespace.lower() not in wanted:
            continue
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(namespace)}")
        for ident in catalog.list_tables(namespace):
            table = catalog.load_table(ident)
            view = f"{_quote(namespace)}.{_quote(ident[-1])}"
            con.execute(f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM {duck.scan(table)}")  # noqa: S608 (names from the catalog, quoted)
    return con


def run(
    sql: str,
    settings: Settings,
    engine: Engine = Engine.TRINO,
    *,
    user: str | None = None,
    catalog: str | None = None,
    max_rows: int | None = None,
    timeout_s: float | None = None,
    on_start: Callable[[Callable[[], None]], None] | None = None,
    read_only: bool = False,
) -> Result:
    """Run one statement and return its columns and rows (at most ``max_rows``).

    ``user`` and ``catalog`` are Trino's (the user's access rules and limits are Trino's). ``timeout_s``
    interrupts a DuckDB statement (Trino's limits are set on the server). ``on_start`` receives a function
    that cancels the running statement, callable from another thread. ``read_only``: on DuckDB, one
    SELECT by its parser, on a connection locked to reading the warehouse (on Trino, the user's rules).
    """
    t0 = time.monotonic()
    if engine is Engine.TRINO:
        conn = trino_sql.connect(settings, user=user, catalog=catalog)
        try:
            cur = conn.cursor()
            done = threading.Event()
            if on_start is not None:
                on_start(lambda: _cancel_when_named(cur, done))
            try:
                cur.execute(sql)
                rows, truncated = _fetch(cur, max_rows)
                if truncated:
                    cur.cancel()
                columns = [d[0] for d in cur.description or []]
            finally:
                done.set()
        finally:
            conn.close()  # type: ignore[no-untyped-call]
    else:
        if read_only:
            duck.one_select(sql)
        con = duckdb_lake(settings, sql)
        timer = threading.Timer(timeout_s, con.interrupt) if timeout_s else None
        try:
            if read_only:
                duck.lock(con, settings)
                duck.only_lake_tables(con, sql)
            if on_start is not None:
                on_start(con.interrupt)
            if timer is not None:
                timer.start()
            cur = con.execute(sql)
            rows, truncated = _fetch(cur, max_rows)
            columns = [d[0] for d in cur.description or []]
        finally:
            if timer is not None:
                timer.cancel()
            con.close()
    return Result(columns, rows, engine, time.monotonic() - t0, truncated)


def _cancel_when_named(cur: Any, done: threading.Event, within_s: float = 30) -> None:
    """Cancel a statement on Trino, even one asked to stop before Trino has named it: the client's own
    cancel does nothing until the first answer has come back, so keep asking until the statement ends."""

    def keep_cancelling() -> None:
        deadline = time.monotonic() + within_s
        while not done.is_set() and time.monotonic() < deadline:
            if cur.query_id is not None:
                try:
                    cur.cancel()
                except QUERY_ERRORS:
                    return  # it ended meanwhile (the server no longer knows it)
            done.wait(0.1)

    threading.Thread(target=keep_cancelling, name="trino-cancel", daemon=True).start()


def _fetch(cur: Any, max_rows: int | None) -> tuple[list[tuple[Any, ...]], bool]:
    if max_rows is None:
        return [tuple(r) for r in cur.fetchall()], False
    rows = [tuple(r) for r in cur.fetchmany(max_rows + 1)]
    return rows[:max_rows], len(rows) > max_rows
