"""Live alerts: newest first from PostgreSQL, refreshed by reading only what was stored since last time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import psycopg2
import streamlit as st
from confluent_kafka import KafkaException

from dashboard import lake, panels, ui
from lakehouse.city import CITY
from lakehouse.schemas import AlertKind, Severity

settings = ui.settings()
st.title("Live alerts")
live = ui.live_toggle()
with st.container(horizontal=True):
    zones = st.multiselect(
        "Zones", [z.name for z in CITY.zones], key="zones", bind="query-params", placeholder="every zone"
    )
    kinds = st.multiselect(
        "Kinds", [k.value for k in AlertKind], key="kinds", bind="query-params", placeholder="every kind"
    )
    severities = st.multiselect(
        "Severities",
        [s.value for s in Severity],
        key="severities",
        bind="query-params",
        placeholder="every severity",
    )
OPEN_FOR = timedelta(minutes=30)  # an alert detected this recently counts as open on the map
NO_ALERTS = (
    "No alerts yet: run `harmony alert` (or `harmony demo`); its delivery worker creates the live table."
)


def refresh() -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """Merge what was stored since the last look into this session's alerts; returns (all, new)."""
    known: dict[str, dict[str, Any]] = st.session_state.setdefault("alerts", {})
    since: datetime | None = st.session_state.get("alerts_stored_at")
    fresh = lake.alerts_since(settings, since)
    for row in fresh:
        known[row["alert_id"]] = row
    if fresh:
        st.session_state["alerts_stored_at"] = max(r["stored_at"] for r in fresh)
    if len(known) > 2000:  # a bounded view: the newest 2,000
        newest = sorted(known.values(), key=lambda r: r["stored_at"], reverse=True)[:2000]
        st.session_state["alerts"] = known = {r["alert_id"]: r for r in newest}
    return known, fresh if since is not None else []


@st.fragment(run_every=settings.dashboard.refresh_s if live else None)
def body() -> None:
    now = datetime.now(UTC)
    try:
        if not ui.cached_alerts_table():
            st.info(NO_ALERTS)
            return
        known, new = refresh()
    except psycopg2.Error as exc:
        st.error(f"PostgreSQL is unreachable: {ui.plain(lake.one_line(exc))}")
        return
    for row in sorted(new, key=lambda r: r["stored_at"]):
        if row["kind"] == AlertKind.RIOT.value:
            zone, severity = ui.plain(row["zone"]), ui.plain(row["severity"])
            st.toast(
                f"Riot in {zone}: {len(row['citizens'])} citizens ({severity})",
                icon=":material/campaign:",
            )
    last = max((r["stored_at"] for r in known.values()), default=None)
    try:
        members = ui.cached_alerting_members()
    except KafkaException as exc:
        st.warning(f"Kafka is unreachable, the alerting processors cannot be checked: {ui.plain(exc)}")
    else:
        stopped = [group for group, n in members.items() if n == 0]
        if stopped:
            st.warning(
                "The alerting processors are not running (no live member in "
                + ", ".join(ui.plain(g) for g in stopped)
                + f"): no new alert will appear. Last alert stored {panels.ago(last, now)}."
            )
    rows = [
        r
        for r in known.values()
        if (not zones or r["zone"] in zones)
        and (not kinds or r["kind"] in kinds)
        and (not severities or r["severity"] in severities)
    ]
    rows.sort(key=lambda r: (r["event_time"], r["alert_id"]), reverse=True)
    st.caption(f"{len(rows):,} alerts shown · refreshed {now:%H:%M:%S} UTC" + ("" if live else " · paused"))
    left, right = st.columns([3, 2])
    with left:
        table = pd.DataFrame(
            [
                {
                    "event time": r["event_time"],
                    "kind": r["kind"],
                    "severity": r["severity"],
                    "zone": r["zone"],
                    "drone": r["drone_id"],
                    "citizens": len(r["citizens"]),
                    "reason": r["reason"],
                    "alert id": r["alert_id"],
                }
                for r in rows
            ],
            columns=["event time", "kind", "severity", "zone", "drone", "citizens", "reason", "alert id"],
        )
        if table.empty:
            st.info("No alert matches.")
        st.dataframe(table, hide_index=True, height=420)
        ui.csv_download(table, "live_alerts")
    with right:
        open_counts: dict[str, float] = {}
        for r in rows:
            if now - r["detected_at"] <= OPEN_FOR:
                open_counts[r["zone"]] = open_counts.get(r["zone"], 0) + 1
        ui.zone_map(open_counts, "open alerts", key="alerts-map")
        st.caption(f"Open alerts per zone (detected in the last {OPEN_FOR.seconds // 60} minutes).")


body()
