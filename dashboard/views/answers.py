"""Answers: the four questions, read from Spark's answer tables (filters only select and sum them)."""

from __future__ import annotations

from datetime import date

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import lake, ui
from lakehouse.city import CITY
from lakehouse.query.engines import QUERY_ERRORS
from lakehouse.tables import PEAK_HOURS, Answer

settings = ui.settings()
st.title("Answers")
stamp = st.container()
ZONES = [z.name for z in CITY.zones]
SHARE = alt.Color("low_score_share:Q", title="low-score share", scale=alt.Scale(scheme="reds"))
BY_DAY, BY_ZONE_HOUR, WORDS = (
    Answer.BY_DAY.identifier(settings),
    Answer.BY_ZONE_HOUR.identifier(settings),
    Answer.WORDS.identifier(settings),
)


answered_by: dict[str, str | None] = {}  # the engine of this run's last read, for the stamp
NO_ANSWERS = "No answers yet: run `harmony demo`, or `harmony analyze` once the lake holds reports."

try:
    tables = ui.cached_lake()
except QUERY_ERRORS as exc:
    st.error(f"The catalog is unreachable: {ui.plain(lake.one_line(exc))}")
    st.stop()
present = {t.identifier for t in tables}


def read(statement: str, table: str) -> pd.DataFrame | None:
    """One answer query on ``table``; None, with an info, when the catalog has no such table yet (decided
    before querying), or with an error when the read fails (an engine down)."""
    if table not in present:
        st.info(NO_ANSWERS)
        return None
    try:
        df, engine, fallback, _seconds = ui.cached_query(statement)
    except QUERY_ERRORS as exc:
        st.error(f"Could not read the answer: {ui.plain(lake.one_line(exc))}")
        return None
    answered_by.update(engine=engine, fallback=fallback)
    return df


# The answer tables are small (a row per day; per day x zone x hour): each is read whole, once for every
# filter, and the filters select and sum it here, so no filter value ever reaches SQL.
sql_days = f"SELECT day, citizens_seen, low_score_citizens, riot_alerts\nFROM {BY_DAY}\nORDER BY day"
loaded = read(sql_days, BY_DAY)
if loaded is None:
    st.stop()
if loaded.empty:
    st.info(NO_ANSWERS)
    st.stop()
all_days: pd.DataFrame = loaded
all_days["day"] = pd.to_datetime(all_days["day"])
first_day: date = all_days["day"].min().date()
last_day: date = all_days["day"].max().date()


def pick_zone() -> None:
    """A click on the map filters every zone chart to that zone (a second click on it clears)."""
    event = st.session_state.get("zone-map")
    objects = getattr(getattr(event, "selection", None), "objects", None) or {}
    chosen = [str(o.get("zone")) for o in objects.get("zones", [])] if isinstance(objects, dict) else []
    st.session_state["zones"] = [z for z in chosen if z in ZONES]


with st.container(horizontal=True):
    days = st.date_input(
        "Dates",
        value=(first_day, last_day),
        min_value=first_day,
        max_value=last_day,
        key="days",
        bind="query-params",
    )
    day_type = st.segmented_control(
        "Days", ["all", "weekdays", "weekends"], default="all", key="daytype", bind="query-params"
    )
    zones = st.multiselect("Zones", ZONES, key="zones", bind="query-params", placeholder="every zone")
start, end = (days[0], days[-1]) if isinstance(days, tuple) and days else (first_day, last_day)
day_type = day_type or "all"

answer_states = [s for s in tables if s.identifier in (BY_DAY, BY_ZONE_HOUR, WORDS)]

QUESTIONS = {  # the choice (as the URL shows it) and the question it answers
    "Weekend effect": "Is unrest worse at weekends?",
    "Hours and zones": "When in the day, and where?",
    "Words of unrest": "What is said?",
}
# One question at a time (in the URL, like the filters): the filters apply to every question, and a page
# drawing one question's charts paints in about half the time of all of them at once.
question = (
    st.segmented_control(
        "Question",
        list(QUESTIONS),
        default="Weekend effect",
        key="question",
        bind="query-params",
    )
    or "Weekend effect"
)
st.header(QUESTIONS[question])


def weekends() -> None:
    """Weekday against weekend, per day, with the ratios."""
    daily = all_days[all_days["day"].between(pd.Timestamp(start), pd.Timestamp(end))].copy()
    if not daily.empty:
        daily["weekend"] = daily["day"].dt.day_of_week >= 5
        daily["day type"] = daily["weekend"].map({True: "weekend", False: "weekday"})
        if day_type != "all":
            daily = daily[daily["weekend"] == (day_type == "weekends")]
        per_type = daily.groupby("day type")[["low_score_citizens", "riot_alerts"]].mean()
        c1, c2, c3 = st.columns(3)
        if {"weekend", "weekday"} <= set(per_type.index):
            ratio = per_type.loc["weekend", "low_score_citizens"] / max(
                per_type.loc["weekday", "low_score_citizens"], 1
            )
            riot_ratio = per_type.loc["weekend", "riot_alerts"] / max(
                per_type.loc["weekday", "riot_alerts"], 1e-9
            )
            c1.metric("weekend / weekday, low-score citizens per day", f"{ratio:.2f}×")
            c2.metric("weekend / weekday, riots per day", f"{riot_ratio:.2f}×")
        c3.metric("days", len(daily))
        st.altair_chart(
            alt.Chart(daily)
            .mark_bar()
            .encode(
                x=alt.X("yearmonthdate(day):O", title=None, axis=alt.Axis(format="%a %d %b", labelAngle=-45)),
                y=alt.Y("low_score_citizens:Q", title="low-score citizens"),
                color=alt.Color(
                    "day type:N", scale=alt.Scale(domain=["weekday", "weekend"], range=["#4c78a8", "#e45756"])
                ),
                tooltip=[
                    "yearmonthdate(day):T",
                    "day type:N",
                    "low_score_citizens:Q",
                    "riot_alerts:Q",
                    "citizens_seen:Q",
                ],
            )
            .properties(height=240),
            key="chart-days",
        )
        ui.csv_download(daily.drop(columns=["weekend"]), "unrest_by_day")
    else:
        st.info("No day in the selected range.")
    ui.show_sql(sql_days)


MEASURES = ["citizens_seen", "low_score_citizens", "riot_alerts"]


def when_and_where() -> None:
    """The 24-hour curve, the zone × hour heatmap, the riskiest zones as a bar and a map."""
    sql_cells = f"SELECT day, zone, hour, citizens_seen, low_score_citizens, riot_alerts\nFROM {BY_ZONE_HOUR}"
    cells = read(sql_cells, BY_ZONE_HOUR)
    if cells is None:
        return  # read said why
    cells = _in_the_window(cells)
    if cells.empty:
        st.info("No unrest recorded for these dates.")
        return
    st.subheader("When in the day?")
    _when(cells[cells["zone"].isin(zones)] if zones else cells)
    ui.show_sql(sql_cells)
    st.subheader("Where?")
    _where(cells)
    ui.show_sql(sql_cells)


def _in_the_window(cells: pd.DataFrame) -> pd.DataFrame:
    """The cells of the chosen dates and day type (every zone: the ranking needs them all)."""
    cells = cells.assign(day=pd.to_datetime(cells["day"]))
    cells = cells[cells["day"].between(pd.Timestamp(start), pd.Timestamp(end))]
    if day_type != "all":
        cells = cells[(cells["day"].dt.day_of_week >= 5) == (day_type == "weekends")]
    return cells


def _summed(cells: pd.DataFrame, *keys: str) -> pd.DataFrame:
    """The measures summed per ``keys``, with the share of low-score citizens."""
    out = cells.groupby(list(keys), as_index=False)[MEASURES].sum()
    out["low_score_share"] = out["low_score_citizens"] / out["citizens_seen"].clip(lower=1)
    return out


def _when(in_zones: pd.DataFrame) -> None:
    """The share of low-score citizens by hour (peak hours flagged) beside the zone × hour heatmap."""
    hours = _summed(in_zones, "hour")
    peak = set(hours.nlargest(PEAK_HOURS, ["low_score_citizens", "riot_alerts"])["hour"])
    hours["peak"] = hours["hour"].isin(peak)
    left, right = st.columns(2)
    with left:
        st.altair_chart(
            alt.Chart(hours)
            .mark_line(point=True)
            .encode(
                x=alt.X("hour:O", title="hour of day (UTC)"),
                y=alt.Y("low_score_share:Q", title="share of low-score citizens", axis=alt.Axis(format="%")),
                tooltip=[
                    "hour:O",
                    "low_score_share:Q",
                    "low_score_citizens:Q",
                    "riot_alerts:Q",
                    "peak:N",
                ],
            )
            .properties(height=400),
            key="chart-hours",
        )
        st.caption("Peak hours: " + ", ".join(f"{h:02d}:00" for h in sorted(peak)))
        ui.csv_download(hours, "unrest_by_hour")
    with right:
        grid = _summed(in_zones, "zone", "hour")
        st.altair_chart(
            alt.Chart(grid)
            .mark_rect()
            .encode(
                x=alt.X("hour:O", title="hour of day (UTC)"),
                y=alt.Y("zone:N", title=None, axis=alt.Axis(labelOverlap=False)),
                color=SHARE,
                tooltip=["zone:N", "hour:O", "low_score_share:Q", "riot_alerts:Q"],
            )
            .properties(height=400),
            key="chart-heatmap",
        )
        ui.csv_download(grid, "unrest_by_zone_hour")


def _where(cells: pd.DataFrame) -> None:
    """The zones ranked by riot episodes then low-score citizens, as a bar (the chosen zones) and a map
    (every zone; a click filters the page to one)."""
    ranked = _summed(cells, "zone").sort_values(
        ["riot_alerts", "low_score_citizens", "zone"], ascending=[False, False, True]
    )
    ranked["risk_rank"] = range(1, len(ranked) + 1)
    shown = ranked[ranked["zone"].isin(zones)] if zones else ranked
    left, right = st.columns([3, 2])
    with left:
        st.altair_chart(
            alt.Chart(shown)
            .mark_bar()
            .encode(
                x=alt.X("riot_alerts:Q", title="riot episodes"),
                y=alt.Y(
                    "zone:N",
                    sort=alt.EncodingSortField("risk_rank", order="ascending"),
                    title=None,
                    axis=alt.Axis(labelOverlap=False),
                ),
                color=SHARE,
                tooltip=[
                    "zone:N",
                    "risk_rank:Q",
                    "riot_alerts:Q",
                    "low_score_share:Q",
                    "citizens_seen:Q",
                ],
            )
            .properties(height=400),
            key="chart-zones",
        )
    with right:
        ui.zone_map(
            dict(zip(ranked["zone"], ranked["riot_alerts"].astype(float), strict=True)),
            "riot episodes",
            key="zone-map",
            on_select=pick_zone,
        )
        st.caption("Click a zone to filter the charts to it.")
    ui.csv_download(shown, "riskiest_zones")


def said() -> None:
    """The words of unrest ranked by lift, with their support."""
    sql_words = (
        "SELECT word, lift_rank, lift, citizens_hearing, low_citizens_hearing\n"
        f"FROM {WORDS}\nWHERE lift_rank IS NOT NULL\nORDER BY lift_rank\nLIMIT 25"
    )
    words = read(sql_words, WORDS)
    if words is not None and not words.empty:
        st.altair_chart(
            alt.Chart(words)
            .mark_bar()
            .encode(
                x=alt.X("lift:Q", title="lift (how much likelier among low-score citizens)"),
                y=alt.Y("word:N", sort=alt.EncodingSortField("lift_rank", order="ascending"), title=None),
                tooltip=["word:N", "lift:Q", "citizens_hearing:Q", "low_citizens_hearing:Q"],
            )
            .properties(height=420),
            key="chart-words",
        )
        ui.csv_download(words, "words_of_unrest")
    ui.show_sql(sql_words)


dict(zip(QUESTIONS, (weekends, when_and_where, said), strict=True))[question]()

with stamp:
    ui.as_of(answer_states, answered_by.get("engine"), answered_by.get("fallback"))
