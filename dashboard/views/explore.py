"""Explore: SQL on the lake through Trino as the read-only dashboard user (DuckDB when Trino is down)."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pandas as pd
import streamlit as st
import trino.exceptions

from dashboard import access, lake, ui
from lakehouse.query.engines import QUERY_ERRORS
from lakehouse.tables import REPORTS, Answer

settings = ui.settings()
limit = settings.dashboard.max_rows
st.title("Explore")
st.caption(
    f"One query (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN, as the engine's own parser classifies it), at most "
    f"{limit:,} rows, stopped by the server after {settings.dashboard.query_timeout_s} s."
)
RAW, BY_ZONE, WORDS = (
    settings.catalog.raw_namespace,
    Answer.BY_ZONE.identifier(settings),
    Answer.WORDS.identifier(settings),
)
EXAMPLES = {  # names from the settings, not from the user
    "Riskiest zones": f"SELECT zone, riot_alerts, low_score_share\nFROM {BY_ZONE}\nORDER BY risk_rank",
    "Reports per drone": (
        f"SELECT drone_id, count(*) AS reports\nFROM {REPORTS.identifier(settings)}\n"
        "GROUP BY 1\nORDER BY 2 DESC"
    ),
    "Words of unrest": (
        f"SELECT word, lift, citizens_hearing\nFROM {WORDS}\nWHERE lift_rank <= 10\nORDER BY lift_rank"
    ),
    "Tables": f"SHOW TABLES FROM {RAW}",
    "Snapshots": (
        f'SELECT committed_at, operation, snapshot_id\nFROM {RAW}."reports$snapshots"\n'
        "ORDER BY committed_at DESC\nLIMIT 20"
    ),
}


def use_example() -> None:
    st.session_state["sql"] = EXAMPLES[st.session_state["example"]]


def not_filled(statement: str) -> str | None:
    """What to run first when ``statement`` names a namespace of the lake that holds no table yet, per
    the catalog (never read from an engine's error); None when it does not, or the catalog is away."""
    try:
        tables = ui.cached_lake()
    except QUERY_ERRORS:
        return None
    empty = lake.empty_namespaces(statement, settings, tables)
    if settings.catalog.answers_namespace in empty:
        return "The lake has no answers yet: run `harmony demo` or `harmony analyze`."
    if empty:
        return "The lake has no raw tables yet: run `harmony demo` or `harmony ingest`."
    return None


st.selectbox(
    "Examples", list(EXAMPLES), index=None, key="example", on_change=use_example, placeholder="pick one"
)
st.session_state.setdefault("sql", EXAMPLES["Riskiest zones"])
first = not_filled(EXAMPLES["Riskiest zones"])
if first is not None:  # the pre-filled example would fail on a lane never filled: say so before a Run
    st.info(first)
statement = st.text_area("SQL", key="sql", bind="query-params", height=160)
with st.container(horizontal=True):
    run_clicked = st.button("Run", type="primary", icon=":material/play_arrow:", key="run")
    cancel_clicked = st.button("Cancel", icon=":material/stop:", key="cancel")


@st.cache_resource
def pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=4, thread_name_prefix="explore")


Running = tuple[Future[lake.Answered], dict[str, Callable[[], None]], str, float]
running: Running | None = st.session_state.get("running")
if cancel_clicked and running is not None:
    stop = running[1].get("cancel")
    if stop is not None:
        stop()
    st.session_state["running"] = running = None
    st.session_state["outcome"] = ("cancelled", "The query was cancelled.")

if run_clicked and running is None:
    text = statement or ""
    if not text.strip():
        st.session_state["outcome"] = ("refused", "the query is empty")
    else:
        box: dict[str, Callable[[], None]] = {}
        role = ui.role()
        future = pool().submit(
            lake.query,
            text,
            settings,
            max_rows=limit,
            on_start=lambda stop: box.__setitem__("cancel", stop),
            user=access.trino_user(role, settings),
            fallback=role is access.Role.OPERATOR,
        )
        st.session_state["running"] = running = (future, box, text, time.monotonic())

if running is not None:
    future, _box, text, started = running
    status = st.empty()
    while not future.done():  # each update gives Streamlit a chance to act on a click on Cancel
        status.info(f"Running for {time.monotonic() - started:.0f} s…", icon=":material/hourglass_top:")
        time.sleep(0.2)
    status.empty()
    st.session_state["running"] = None
    history: list[dict[str, Any]] = st.session_state.setdefault("history", [])
    try:
        answered = future.result()
    except lake.QueryRefused as exc:  # a lane never filled has no view for DuckDB to read: what to run
        hint = not_filled(text)
        st.session_state["outcome"] = ("refused", str(exc)) if hint is None else ("empty", (hint, str(exc)))
        history.insert(0, {"query": text, "outcome": "refused", "seconds": None, "rows": None})
    except trino.exceptions.TrinoQueryError as exc:
        message = lake.one_line(exc)
        if (why := lake.refusal(exc)) is not None:
            st.session_state["outcome"] = ("refused", why)
            history.insert(0, {"query": text, "outcome": "refused", "seconds": None, "rows": None})
        elif exc.error_name == "EXCEEDED_TIME_LIMIT":
            message = f"The query ran past {settings.dashboard.query_timeout_s} s and was stopped: {message}"
        if why is None:
            hint = not_filled(text)
            st.session_state["outcome"] = ("error", message) if hint is None else ("empty", (hint, message))
            history.insert(
                0, {"query": text, "outcome": exc.error_name or "error", "seconds": None, "rows": None}
            )
    except QUERY_ERRORS as exc:
        message, hint = lake.one_line(exc), not_filled(text)
        st.session_state["outcome"] = ("error", message) if hint is None else ("empty", (hint, message))
        history.insert(0, {"query": text, "outcome": "error", "seconds": None, "rows": None})
    else:
        st.session_state["outcome"] = ("ok", answered)
        r = answered.result
        history.insert(
            0, {"query": text, "outcome": r.engine.value, "seconds": round(r.seconds, 3), "rows": len(r.rows)}
        )
    del history[50:]

outcome = st.session_state.get("outcome")
if outcome is not None:
    kind, value = outcome
    if kind == "ok":
        answered = value
        r = answered.result
        ui.as_of([], r.engine.value, answered.fallback_reason)
        df = pd.DataFrame(r.rows, columns=r.columns)
        note = f"{len(df):,} rows in {r.seconds:.2f} s"
        if r.truncated:
            st.warning(f"Only the first {limit:,} rows are shown: the query returns more.")
        st.caption(note)
        st.dataframe(df, hide_index=True)
        ui.csv_download(df, "query")
        numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])]
        labels = [c for c in df.columns if c not in numeric]
        if numeric and labels and 1 < len(df) <= 200:
            with st.expander("Quick chart", expanded=True):
                st.bar_chart(df, x=labels[0], y=numeric[0], height=260)
    elif kind == "cancelled":
        st.info(value)
    elif kind == "empty":  # a lane never filled: what to run, and the engine's words under it
        hint, message = value
        st.info(hint)
        st.caption(ui.plain(message))
    else:
        st.error(ui.plain(value))

history = st.session_state.get("history", [])
if history:
    with st.expander(f"History ({len(history)})"):
        st.dataframe(pd.DataFrame(history), hide_index=True)
