"""What every page shows the same way: the "data as of" stamp, the live toggle, CSV downloads, the SQL
behind a chart, the city map, and text from the stream escaped before it is drawn."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pydeck as pdk
import streamlit as st

from dashboard import access, lake
from dashboard.revalidate import Revalidating
from lakehouse.city import CITY, Zone
from lakehouse.export import spreadsheet_cell
from lakehouse.query.lake_state import TableState
from lakehouse.settings import Settings, get_settings
from lakehouse.tables import REPORTS

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~<$:])")


def plain(text: object) -> str:
    """``text`` as literal characters in Streamlit markdown (toasts, captions): no markup, no HTML."""
    return _MARKDOWN.sub(r"\\\1", str(text)).replace("\n", " ")


def settings() -> Settings:
    return get_settings()


def who_is_there() -> access.Role:
    """The role of whoever uses this session: the operator on loopback; beyond it, whoever gives a
    role's password (the page stops at the login form until then)."""
    if not access.needs_login(st.get_option("server.address")):
        return access.Role.OPERATOR
    known = st.session_state.get("role")
    if known is not None:
        with st.sidebar:
            st.caption(f"Signed in as {known}")
            if st.button("Sign out", key="sign-out"):
                del st.session_state["role"]
                st.rerun()
        return access.Role(known)
    st.title("Harmony Lakehouse")
    st.caption("Served beyond its machine: sign in with your role's password (operator or analyst).")
    with st.form("login"):
        password = st.text_input("Password", type="password", key="password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        role = access.role_for(password, settings())
        if role is None:
            time.sleep(1)  # slows guessing down; the comparison itself is constant-time
            st.error("Wrong password.")
        else:
            st.session_state["role"] = role.value
            st.rerun()
    st.stop()
    raise AssertionError("st.stop() returned")  # for the type checker: stop never returns


def role() -> access.Role:
    """This session's role (set by ``who_is_there`` before any page runs)."""
    return access.Role(st.session_state.get("role", access.Role.OPERATOR.value))


class _Reads:
    """The server's shared reads, one per kind, each served stale-while-revalidate (see ``revalidate``)."""

    def __init__(self) -> None:
        self.query = Revalidating(_answer, ttl_s=10)
        self.lake: Revalidating[Settings, list[TableState]] = Revalidating(lake.lake, ttl_s=5, max_entries=4)
        self.lag = Revalidating(self._lag, ttl_s=5, max_entries=4)
        self.alerts_today: Revalidating[Settings, dict[str, int]] = Revalidating(
            lake.alert_counts_today, ttl_s=5, max_entries=4
        )
        self.alerts_table: Revalidating[Settings, bool] = Revalidating(
            lake.alerts_table_exists, ttl_s=5, max_entries=4
        )
        self.alerting: Revalidating[Settings, dict[str, int]] = Revalidating(
            lake.alerting_members, ttl_s=2, max_stale_s=10, max_entries=4
        )
        self.newest: Revalidating[Settings, datetime | None] = Revalidating(
            lake.newest_report, ttl_s=30, max_entries=4
        )

    def _lag(self, s: Settings) -> list[dict[str, int]]:
        reports = REPORTS.identifier(s)
        return lake.ingest_lag(s, next((t for t in self.lake.get(s) if t.identifier == reports), None))


@st.cache_resource
def _reads() -> _Reads:
    return _Reads()


def _answer(key: tuple[Settings, str]) -> tuple[pd.DataFrame, str, str | None, float]:
    answered = lake.query(key[1], key[0])
    r = answered.result
    return pd.DataFrame(r.rows, columns=r.columns), r.engine.value, answered.fallback_reason, r.seconds


def cached_query(statement: str) -> tuple[pd.DataFrame, str, str | None, float]:
    """A small read (an answer table, an aggregate): rows (a copy the page may change), engine, why not
    Trino, seconds."""
    df, engine, fallback, seconds = _reads().query.get((settings(), statement))
    return df.copy(), engine, fallback, seconds


def cached_lake() -> list[TableState]:
    return _reads().lake.get(settings())


def cached_lag() -> list[dict[str, int]]:
    """Per partition of the reports topic: the topic's end, the lake's offset and the lag."""
    return _reads().lag.get(settings())


def cached_alerts_today() -> dict[str, int]:
    return _reads().alerts_today.get(settings())


def cached_alerts_table() -> bool:
    """Whether the live alerts table exists yet (`harmony alert` creates it when delivery starts)."""
    return _reads().alerts_table.get(settings())


def cached_alerting_members() -> dict[str, int]:
    """Running members per alerting consumer group (rules, delivery)."""
    return _reads().alerting.get(settings())


FUTURE_TOLERANCE = timedelta(minutes=5)  # two clocks disagree by this much


def future_message(newest: datetime | None, now: datetime) -> str | None:
    """What to say when the lake holds reports dated after ``now`` (beyond two clocks' disagreement)."""
    if newest is None or newest <= now + FUTURE_TOLERANCE:
        return None
    return (
        f"The lake holds reports dated up to {newest:%Y-%m-%d %H:%M} UTC, after now "
        f"({now:%Y-%m-%d %H:%M} UTC): today's figures and the live views describe that future. "
        "`harmony demo --reset` starts a new lake."
    )


def future_warning() -> None:
    """Every page: a warning when the lake holds reports dated after now (an older demo wrote them, or a
    producer's clock is wrong): "today", freshness and the live views would describe a future."""
    try:
        newest = _reads().newest.get(settings())
    except Exception:  # the catalog away is each page's to tell, not this banner's
        return
    message = future_message(newest, datetime.now(UTC))
    if message is not None:
        st.warning(message)


def clear_caches() -> None:
    """Forget every shared read (tests that point the settings elsewhere)."""
    reads = _reads()
    for cache in (
        reads.query,
        reads.lake,
        reads.lag,
        reads.alerts_today,
        reads.alerts_table,
        reads.alerting,
        reads.newest,
    ):
        cache.clear()


def as_of(tables: Sequence[TableState | None], engine: str | None, fallback: str | None = None) -> None:
    """The stamp under a page title: the snapshots read, when they were committed, which engine answered."""
    parts = [
        f"`{t.identifier}` snapshot {t.snapshot_id} · {t.committed_at:%Y-%m-%d %H:%M:%S} UTC"
        for t in tables
        if t is not None and t.snapshot_id is not None and t.committed_at is not None
    ]
    stamp = f"Data as of {'; '.join(parts) if parts else 'no snapshot yet'}" if tables else ""
    by = f"answered by **{engine}**" if engine else ""
    st.caption(" · ".join(p for p in (stamp, by) if p))
    if fallback:
        st.warning(
            f"{plain(fallback)}: these results come from embedded DuckDB over the same Iceberg tables."
        )


def live_toggle(default: bool = True) -> bool:
    """The page's live switch (in the URL): off pauses every refresh of the page."""
    return bool(
        st.toggle("Live", value=default, key="live", bind="query-params", help="pause to stop refreshing")
    )


def csv_download(df: pd.DataFrame, name: str) -> None:
    """The frame as a CSV file whose text cells no spreadsheet runs (``lakehouse.export``)."""
    safe = df.map(spreadsheet_cell)
    safe.columns = [spreadsheet_cell(str(c)) for c in df.columns]
    st.download_button(
        "Download CSV",
        safe.to_csv(index=False).encode(),
        file_name=f"{name}.csv",
        mime="text/csv",
        key=f"csv-{name}",
    )


def show_sql(statement: str) -> None:
    """The SQL behind a chart, behind a button: a popover draws its code block only when opened (a code
    block in a closed expander still costs a page a quarter of a second to paint)."""
    with st.popover("SQL"):
        st.code(statement, language="sql")


def zone_polygon(z: Zone) -> list[list[float]]:
    """A zone's rectangle as pydeck draws a polygon: [lon, lat] corners."""
    return [[z.lon_min, z.lat_min], [z.lon_max, z.lat_min], [z.lon_max, z.lat_max], [z.lon_min, z.lat_max]]


def city_view() -> pdk.ViewState:
    """The whole city in view (every map of the dashboard starts here)."""
    return pdk.ViewState(
        latitude=(CITY.lat_min + CITY.lat_max) / 2, longitude=(CITY.lon_min + CITY.lon_max) / 2, zoom=10.4
    )


def zone_map(
    values: dict[str, float],
    label: str,
    key: str,
    height: int = 360,
    on_select: Callable[[], None] | None = None,
) -> None:
    """The city's zones coloured by ``values`` (white → red); ``on_select`` runs when a zone is clicked
    (read the selection from ``st.session_state[key]``).

    No base map: the city is drawn from its own grid, so nothing is fetched from outside the machine.
    """
    top = max(values.values(), default=0.0) or 1.0
    rows: list[dict[str, Any]] = []
    for z in CITY.zones:
        v = values.get(z.name, 0.0)
        heat = v / top
        rows.append(
            {
                "zone": z.name,
                "value": round(v, 3),
                "polygon": zone_polygon(z),
                "fill": [255, int(235 * (1 - heat)), int(220 * (1 - heat)), 210],
                "lon": z.centre[1],
                "lat": z.centre[0],
            }
        )
    deck = pdk.Deck(
        layers=[
            pdk.Layer(
                "PolygonLayer",
                rows,
                id="zones",
                get_polygon="polygon",
                get_fill_color="fill",
                get_line_color=[80, 80, 80],
                line_width_min_pixels=1,
                pickable=True,
                auto_highlight=True,
            ),
            pdk.Layer(
                "TextLayer",
                rows,
                id="names",
                get_position=["lon", "lat"],
                get_text="zone",
                get_size=13,
                get_color=[20, 20, 20],
            ),
        ],
        initial_view_state=city_view(),
        map_provider=None,
        tooltip={"text": "{zone}\n" + label + ": {value}"},
    )
    st.pydeck_chart(
        deck,
        height=height,
        on_select=on_select if on_select is not None else "ignore",
        selection_mode="single-object",
        key=key,
    )
