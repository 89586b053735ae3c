"""Everything the dashboard reads, and nothing it computes.

The lake's state from the catalog, answers and ad-hoc SQL through Trino as the read-only dashboard user
(DuckDB over the same Iceberg tables when Trino is unreachable), live alerts from PostgreSQL, and how far
the lake is behind the reports topic from Kafka's watermarks. No Streamlit here: the pages cache and draw.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import trino.exceptions
from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient
from psycopg2 import sql

from lakehouse.catalog import load_catalog
from lakehouse.query import duck, live_alerts, trino_sql
from lakehouse.query.engines import Engine, Result, run
from lakehouse.query.lake_state import TableState, lake_state, newest_event
from lakehouse.settings import Settings
from lakehouse.tables import REPORTS, namespaces_named


class QueryRefused(ValueError):
    """A statement the Explore page does not run, with the engine's reason."""


def refusal(exc: trino.exceptions.TrinoQueryError) -> str | None:
    """Why Trino refused a statement as not a read (the dashboard user's resource groups), or None."""
    if trino_sql.refused_as_not_a_read(exc):
        return (
            "only a query runs here: Trino's parser classified this statement as something other than "
            f"{', '.join(trino_sql.READ_QUERY_TYPES)}"
        )
    return None


@dataclass(frozen=True)
class Answered:
    """A query's result and where it came from (the page's "data as of" stamp)."""

    result: Result
    fallback_reason: str | None = None  # why DuckDB answered instead of Trino


def query(
    statement: str,
    settings: Settings,
    *,
    max_rows: int | None = None,
    on_start: Callable[[Callable[[], None]], None] | None = None,
    user: str | None = None,
    fallback: bool = True,
) -> Answered:
    """Run a read on Trino as the dashboard user; if Trino cannot be reached, on embedded DuckDB.

    Neither is sent a statement picked by words: Trino classifies it (the dashboard user's resource
    groups admit only reads, its access rules only SELECT on the read-only catalog); DuckDB's parser must
    find one SELECT, run on a connection locked to reading the warehouse. A statement Trino refuses
    (syntax, access, a limit) is the user's answer and is raised, not retried elsewhere; only an
    unreachable server falls back, unless ``fallback`` is off (``user``'s rights are Trino's alone).
    """
    if not statement.strip():
        raise QueryRefused("the query is empty")
    dash = settings.dashboard
    try:
        return Answered(
            run(
                statement,
                settings,
                Engine.TRINO,
                user=user or dash.trino_user,
                catalog=settings.catalog.read_only_name,
                max_rows=max_rows,
                on_start=on_start,
            )
        )
    except trino.exceptions.TrinoQueryError:
        raise
    except (OSError, trino.exceptions.HttpError, trino.exceptions.TrinoConnectionError) as exc:
        reason = f"Trino is unreachable ({type(exc).__name__})"
        if not fallback:  # DuckDB has no column masks: a role that sees names masked waits for Trino
            raise QueryRefused(f"{reason}: this role's queries run only on Trino, which masks names") from exc
    try:
        result = run(
            statement,
            settings,
            Engine.DUCKDB,
            max_rows=max_rows,
            timeout_s=dash.query_timeout_s,
            on_start=on_start,
            read_only=True,
        )
    except duck.NotARead as exc:
        raise QueryRefused(str(exc)) from exc
    return Answered(result, reason)


def one_line(exc: Exception) -> str:
    """An engine's own message in one line: Trino's without the error object around it, DuckDB's without
    the caret block under it, psycopg2's without its detail lines."""
    if isinstance(exc, trino.exceptions.TrinoQueryError) and exc.message:
        text = exc.message
    else:
        text = str(exc).strip()
    return " ".join(text.splitlines()[0].split()) if text else type(exc).__name__


def lake(settings: Settings) -> list[TableState]:
    return lake_state(load_catalog(settings), settings)


def newest_report(settings: Settings) -> datetime | None:
    """The newest event time in the reports table, from its manifests' bounds (no data file read)."""
    return newest_event(load_catalog(settings), REPORTS.identifier(settings))


def empty_namespaces(statement: str, settings: Settings, tables: list[TableState]) -> list[str]:
    """The lake's namespaces (raw, answers) ``statement`` names that hold no table yet, per the catalog's
    state (``tables``): a query on a lane never filled, which wants a hint, not an error."""
    filled = {t.identifier.split(".", 1)[0] for t in tables}
    return [ns for ns in namespaces_named(statement, settings) if ns not in filled]


def ingest_lag(settings: Settings, reports: TableState | None) -> list[dict[str, int]]:
    """Per partition of the reports topic: its end offset, the lake's next offset, and the difference."""
    topic = settings.kafka.reports_topic
    landed = reports.offsets.get(topic, {}) if reports is not None else {}
    consumer = Consumer(settings.kafka.client({"group.id": "harmony-dashboard-lag"}))
    try:
        meta = consumer.list_topics(topic, timeout=5).topics.get(topic)
        if meta is None or meta.error is not None:
            return []
        out = []
        for p in sorted(meta.partitions):
            _low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=5)
            lake_next = landed.get(p, 0)
            out.append(
                {"partition": p, "end_offset": high, "lake_offset": lake_next, "lag": high - lake_next}
            )
        return out
    except KafkaException:
        return []
    finally:
        consumer.close()


def alerting_members(settings: Settings, timeout_s: float = 5) -> dict[str, int]:
    """Running members of the alerting processors' consumer groups (rules, delivery), from the broker.

    The broker drops a member that stopped (at once) or died (after its session timeout): zero members
    means that stage is not running, whether or not the city is calm."""
    groups = [settings.alerting.consumer_group, settings.alerting.delivery_group]
    admin = AdminClient(settings.kafka.client())
    described = admin.describe_consumer_groups(groups, request_timeout=timeout_s)
    return {group: len(described[group].result(timeout_s).members) for group in groups}


def alerts_table_exists(settings: Settings) -> bool:
    """Whether the live alerts table exists: the delivery worker creates it when it starts, so before
    `harmony alert` first ran there are no alerts, and nothing failed."""
    conn = live_alerts.connect(settings)
    try:
        return live_alerts.table_exists(conn, settings)
    finally:
        conn.close()


def alerts_since(settings: Settings, stored_after: datetime | None, limit: int = 500) -> list[dict[str, Any]]:
    """Alerts stored (or escalated) after ``stored_after``, newest first; all recent ones when None; none
    while the table does not exist."""
    columns = (*live_alerts.COLUMNS, "stored_at")
    table_name = sql.Identifier(settings.postgres.alerts_table)
    conn = live_alerts.connect(settings)
    try:
        if not live_alerts.table_exists(conn, settings):
            return []
        with conn.cursor() as cur:
            select = sql.SQL("SELECT {} FROM {}").format(
                sql.SQL(", ").join(map(sql.Identifier, columns)), table_name
            )
            if stored_after is None:
                cur.execute(select + sql.SQL(" ORDER BY stored_at DESC LIMIT %s"), (limit,))
            else:
                cur.execute(
                    select + sql.SQL(" WHERE stored_at > %s ORDER BY stored_at DESC LIMIT %s"),
                    (stored_after, limit),
                )
            return [dict(zip(columns, row, strict=True)) for row in cur.fetchall()]
    finally:
        conn.close()


def alert_counts_today(settings: Settings) -> dict[str, int]:
    """Alerts per kind whose event time is today (UTC); none while the table does not exist."""
    conn = live_alerts.connect(settings)
    try:
        if not live_alerts.table_exists(conn, settings):
            return {}
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL(
                    "SELECT kind, count(*) FROM {} WHERE event_time >= date_trunc('day', now() AT TIME ZONE "
                    "'UTC') AT TIME ZONE 'UTC' GROUP BY kind"
                ).format(sql.Identifier(settings.postgres.alerts_table))
            )
            return {str(k): int(n) for k, n in cur.fetchall()}
    finally:
        conn.close()
