"""Run SQL on the lake through Trino, the shared SQL server for people and the dashboard."""

from __future__ import annotations

from typing import Any

import trino

from lakehouse.settings import Settings, get_settings


def connect(
    settings: Settings | None = None,
    schema: str | None = None,
    user: str | None = None,
    catalog: str | None = None,
) -> trino.dbapi.Connection:
    """A connection as ``user`` to ``catalog`` (default: the platform's admin user, the lake catalog)."""
    settings = settings or get_settings()
    t = settings.trino
    return trino.dbapi.connect(
        host=t.host,
        port=t.port,
        user=user or t.user,
        catalog=catalog or settings.catalog.name,
        schema=schema,
        request_timeout=60,
    )


def query(sql: str, settings: Settings | None = None, params: list[Any] | None = None) -> list[list[Any]]:
    """Execute one statement and return all rows."""
    conn = connect(settings)
    try:
        cur = conn.cursor()
        cur.execute(sql, params)
        return [list(r) for r in cur.fetchall()]
    finally:
        conn.close()
