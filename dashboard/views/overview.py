"""Overview: the lake end to end, from the topic's end to the answers."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import psycopg2
import streamlit as st
from confluent_kafka import KafkaException

from dashboard import lake, panels, ui
from lakehouse.query.engines import QUERY_ERRORS
from lakehouse.query.lake_state import TableState
from lakehouse.schemas import AlertKind
from lakehouse.tables import RAW_TABLES, REPORTS, Answer

settings = ui.settings()
st.title("Overview")
live = ui.live_toggle()
reports_ident = REPORTS.identifier(settings)
PER_MINUTE = (
    "SELECT date_trunc('minute', event_time) AS minute, count(*) AS reports\n"
    f"FROM {reports_ident}\n"
    "WHERE event_time >= current_timestamp - INTERVAL '1' HOUR\nGROUP BY 1\nORDER BY 1"
)


def reports_per_minute() -> None:
    """The last hour's reports per minute, as bars (the reports table exists)."""
    try:
        per_minute, engine, fallback, _ = ui.cached_query(PER_MINUTE)
    except QUERY_ERRORS as exc:
        st.error(f"Query failed: {ui.plain(lake.one_line(exc))}")
        return
    if per_minute.empty:
        st.info("No report with an event time in the last hour (a backfill writes past event times).")
    else:
        st.html(
            panels.bars(
                [
                    (f"{m:%H:%M}", float(n))
                    for m, n in zip(per_minute["minute"], per_minute["reports"], strict=True)
                ],
                "reports",
            )
        )
        ui.csv_download(per_minute, "reports_per_minute")
    st.caption(f"answered by {engine}" + (f" ({ui.plain(fallback)})" if fallback else ""))


@st.fragment(run_every=5 if live else None)
def body() -> None:
    """The tables, then what flows in (reports per minute, ingest lag), then what came out."""
    now = datetime.now(UTC)
    try:
        states = ui.cached_lake()
    except QUERY_ERRORS as exc:
        st.error(f"The catalog is unreachable: {ui.plain(lake.one_line(exc))}")
        return
    by_ident = {s.identifier: s for s in states}
    ui.as_of([by_ident.get(spec.identifier(settings)) for spec in RAW_TABLES], None)
    if not states:
        st.info("The lake is empty: start `harmony ingest` and `harmony simulate` to fill it.")
        return
    st.subheader("Tables")
    tables(states, now)
    left, right = st.columns(2)
    with left:
        st.subheader("Reports per minute, last hour")
        if reports_ident in by_ident:  # decided from the catalog, before asking an engine
            reports_per_minute()
        else:
            st.info("No reports table yet: run `harmony simulate` then `harmony ingest`.")
        ui.show_sql(PER_MINUTE)
    with right:
        st.subheader("Ingest lag per partition")
        ingest_lag()
    left, right = st.columns(2)
    with left:
        st.subheader("Alerts today")
        alerts_today()
    with right:
        st.subheader("Answers")
        answers_sources(by_ident, now)


def tables(states: list[TableState], now: datetime) -> None:
    """A card per table (rows, files, snapshots, freshness), and the same as a CSV."""
    cards = pd.DataFrame(
        [
            {
                "table": s.identifier,
                "rows": s.rows,
                "data files": s.data_files,
                "snapshots": s.snapshots,
                "last commit": panels.ago(s.committed_at, now),
                "freshness": panels.freshness(s.age_s(now))[1],
            }
            for s in states
        ]
    )
    st.html(panels.cards(states, now))
    ui.csv_download(cards, "tables")


def ingest_lag() -> None:
    """Per partition, the topic's end minus the lake's committed offset."""
    try:
        lag = pd.DataFrame(ui.cached_lag())
    except KafkaException as exc:
        st.error(f"Kafka is unreachable: {ui.plain(exc)}")
        return
    if lag.empty:
        st.info(
            f"The topic {ui.plain(settings.kafka.reports_topic)} does not exist yet: run "
            "`harmony stack up` (it creates the topics)."
        )
        return
    st.html(
        panels.bars(
            [(f"p{p}", float(n)) for p, n in zip(lag["partition"], lag["lag"], strict=True)],
            "reports behind",
            colour="#e45756",
        )
    )
    st.caption(f"total lag {int(lag['lag'].sum()):,} reports (topic end − the lake's committed offset)")
    ui.csv_download(lag, "ingest_lag")


def alerts_today() -> None:
    """Today's alerts per kind, from the live table."""
    try:
        has_alerts = ui.cached_alerts_table()
        today = ui.cached_alerts_today() if has_alerts else {}
    except psycopg2.Error as exc:
        st.warning(f"Live alerts are unavailable: {ui.plain(lake.one_line(exc))}")
        return
    if has_alerts:
        st.html(panels.stats({kind.value: today.get(kind.value, 0) for kind in AlertKind}))
    else:
        st.info("No alerts yet: run `harmony alert` (or `harmony demo`).")


def answers_sources(by_ident: dict[str, TableState], now: datetime) -> None:
    """When the answers were last computed, and from which snapshots of the raw tables."""
    computed = [by_ident[a.identifier(settings)] for a in Answer if a.identifier(settings) in by_ident]
    if not computed:
        st.info("No answer computed yet: run `harmony analyze`.")
        return
    newest = max(computed, key=lambda s: s.committed_at or now)
    st.html(
        f"<p>Last computed <b>{panels.ago(newest.committed_at, now)}</b> from snapshots:</p>"
        + panels.table(
            ["table", "snapshot read", "current snapshot"],
            [
                (t, snap, by_ident[t].snapshot_id if t in by_ident else None)
                for t, snap in sorted(newest.source_snapshots.items())
            ],
        )
    )


body()
