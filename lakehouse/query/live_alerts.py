"""The live alerts table in PostgreSQL: written by alerting (upsert by ``alert_id``), read by the dashboard.

An alert re-emitted with a higher severity (a growing riot) updates its row; a replay of the same alert
changes nothing, so delivery can be at-least-once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg2
import psycopg2.extensions
from psycopg2 import sql
from psycopg2.extras import execute_values

from lakehouse.schemas import Alert
from lakehouse.settings import Settings

COLUMNS = (
    "alert_id", "kind", "severity", "drone_id", "zone", "citizens", "event_time", "detected_at", "reason"
)  # fmt: skip


def connect(settings: Settings, timeout_s: int = 5) -> psycopg2.extensions.connection:
    """A connection that gives up after ``timeout_s`` (connecting) and 30 s (any one statement)."""
    pg = settings.postgres
    return psycopg2.connect(
        host=pg.host,
        port=pg.port,
        user=pg.user,
        password=pg.password.get_secret_value(),
        dbname=pg.database,
        connect_timeout=timeout_s,
        options="-c statement_timeout=30000",
    )


def table_exists(conn: psycopg2.extensions.connection, settings: Settings) -> bool:
    """Whether the live alerts table exists yet (the delivery worker creates it when it starts): a reader
    on a lane where alerting never ran finds no table, which means no alerts, not a failure."""
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass(quote_ident(%s)) IS NOT NULL", (settings.postgres.alerts_table,))
        row = cur.fetchone()
    return bool(row and row[0])


def ensure_table(conn: psycopg2.extensions.connection, settings: Settings) -> None:
    table = sql.Identifier(settings.postgres.alerts_table)
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL(
                """CREATE TABLE IF NOT EXISTS {} (
                    alert_id text PRIMARY KEY,
                    kind text NOT NULL,
                    severity text NOT NULL,
                    severity_rank smallint NOT NULL,
                    drone_id text NOT NULL,
                    zone text NOT NULL,
                    citizens text[] NOT NULL,
                    event_time timestamptz NOT NULL,
                    detected_at timestamptz NOT NULL,
                    stored_at timestamptz NOT NULL DEFAULT now(),
                    reason text NOT NULL
                )"""
            ).format(table)
        )
        cur.execute(
            sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (event_time DESC)").format(
                sql.Identifier(f"{settings.postgres.alerts_table}_event_time"), table
            )
        )
    conn.commit()


def upsert(conn: psycopg2.extensions.connection, settings: Settings, alerts: Iterable[Alert]) -> int:
    """Insert new alerts; raise the severity of known ones; never duplicate. Returns rows written."""
    newest: dict[str, Alert] = {}
    for a in alerts:  # one row per id in a statement: the highest severity wins
        known = newest.get(a.alert_id)
        if known is None or a.severity.rank > known.severity.rank:
            newest[a.alert_id] = a
    rows = [
        (
            a.alert_id, a.kind.value, a.severity.value, a.severity.rank, a.drone_id, a.zone,
            list(a.citizens), a.event_time, a.detected_at, a.reason,
        )
        for a in newest.values()
    ]  # fmt: skip
    if not rows:
        return 0
    table = sql.Identifier(settings.postgres.alerts_table)
    query = sql.SQL(
        """INSERT INTO {t} (alert_id, kind, severity, severity_rank, drone_id, zone, citizens, event_time,
               detected_at, reason) VALUES %s
           ON CONFLICT (alert_id) DO UPDATE SET severity = excluded.severity,
               severity_rank = excluded.severity_rank, citizens = excluded.citizens, reason = excluded.reason,
               detected_at = excluded.detected_at, stored_at = now()
           WHERE excluded.severity_rank > {t}.severity_rank"""
    ).format(t=table)
    with conn.cursor() as cur:
        execute_values(cur, query.as_string(conn), rows)
        written = cur.rowcount
    conn.commit()
    return int(written)


def recent(settings: Settings, limit: int = 100) -> list[dict[str, Any]]:
    """The newest alerts, newest first (the dashboard's live view); none before the table exists."""
    conn = connect(settings)
    try:
        if not table_exists(conn, settings):
            return []
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL("SELECT {} FROM {} ORDER BY event_time DESC, alert_id LIMIT %s").format(
                    sql.SQL(", ").join(map(sql.Identifier, COLUMNS)),
                    sql.Identifier(settings.postgres.alerts_table),
                ),
                (limit,),
            )
            return [dict(zip(COLUMNS, row, strict=True)) for row in cur.fetchall()]
    finally:
        conn.close()
