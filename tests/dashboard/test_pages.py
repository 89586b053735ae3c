"""Every page of the dashboard against the real stack and a seeded lake (Streamlit's AppTest: the
script runs for real, without a browser)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from confluent_kafka import Consumer
from streamlit.testing.v1 import AppTest

from dashboard import ui
from lakehouse.query import live_alerts
from lakehouse.query.engines import Engine, run
from lakehouse.schemas import Alert, AlertKind, Severity
from lakehouse.settings import get_settings
from lakehouse.tables import Answer
from testkit.browser import free_port
from testkit.lakes import Lake, alerts_copied
from testkit.pages import PAGES

OpenPage = Callable[..., AppTest]


def texts(elements: object) -> str:
    return "\n".join(str(getattr(e, "value", "")) for e in elements)  # type: ignore[attr-defined]


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_renders_on_the_seeded_lake(open_page: OpenPage, page: str) -> None:
    at = open_page(page)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, texts(at.error)
    assert page in at.title[0].value.lower()


def test_overview_shows_every_table_and_the_answers_sources(open_page: OpenPage) -> None:
    at = open_page("overview")
    settings = get_settings()
    panels = "\n".join(e.proto.body for e in at.get("html"))
    for spec_ident in (
        f"{settings.catalog.raw_namespace}.reports",
        f"{settings.catalog.answers_namespace}.riskiest_zones",
    ):
        assert spec_ident in panels
    assert "Data as of" in texts(at.caption)
    assert "harmony-cards" in panels and "harmony-bars" in panels, "the table cards and the lag bars"
    assert "Last computed" in panels and "snapshot read" in panels


def test_answers_match_the_answer_tables(open_page: OpenPage, analysed_lake: Lake) -> None:
    """The weekend ratio on the page is the one the answer table gives (the seeded run made weekends worse)."""
    at = open_page("answers")
    ratio = next(m for m in at.metric if m.label.startswith("weekend / weekday, low-score"))
    daily = run(
        f"SELECT day, low_score_citizens FROM {Answer.BY_DAY.identifier(analysed_lake.settings)}",
        analysed_lake.settings,
        Engine.DUCKDB,
    )
    weekend = [n for d, n in daily.rows if d.isoweekday() >= 6]
    weekday = [n for d, n in daily.rows if d.isoweekday() < 6]
    expected = (sum(weekend) / len(weekend)) / (sum(weekday) / len(weekday))
    assert ratio.value == f"{expected:.2f}×"
    assert expected > 1.2
    assert "answered by **trino**" in texts(at.caption)


def test_answers_filters_restore_from_the_url(open_page: OpenPage) -> None:
    at = open_page("answers", params={"daytype": "weekends", "zones": "Cathedral"})
    assert at.segmented_control(key="daytype").value == "weekends"
    assert at.multiselect(key="zones").value == ["Cathedral"]
    days = next(m for m in at.metric if m.label == "days")
    assert 0 < int(days.value) <= 6, "two seeded weeks: four to six weekend days"
    at.segmented_control(key="daytype").set_value("weekdays").run()
    weekdays = next(m for m in at.metric if m.label == "days")
    assert int(weekdays.value) > int(days.value), "the filter applies (the URL rewrite is the browser test's)"


def test_empty_lake_says_what_to_do(open_page: OpenPage) -> None:
    empty = f"empty_{uuid.uuid4().hex[:6]}"
    env = {"HARMONY_CATALOG__RAW_NAMESPACE": empty, "HARMONY_CATALOG__ANSWERS_NAMESPACE": empty}
    at = open_page("answers", **env)
    assert not at.exception
    assert "No answers yet" in texts(at.info)
    at = open_page("overview", **env)
    assert "The lake is empty" in texts(at.info)


def test_answers_fall_back_to_duckdb_when_trino_is_down(open_page: OpenPage) -> None:
    at = open_page("answers", HARMONY_TRINO__HTTPS_PORT=str(free_port()))
    assert not at.exception
    assert "DuckDB" in texts(at.warning)
    assert "answered by **duckdb**" in texts(at.caption)
    assert any(m.label.startswith("weekend / weekday") for m in at.metric)


def explore(at: AppTest, statement: str) -> AppTest:
    at.text_area(key="sql").set_value(statement)
    at.button(key="run").click().run()
    return at


def test_explore_refuses_writes_and_several_statements(open_page: OpenPage) -> None:
    at = open_page("explore")
    settings = get_settings()
    explore(at, f"DROP TABLE {settings.catalog.raw_namespace}.reports")
    assert "only a query runs here" in texts(at.error)  # Trino typed it: its resource groups refuse it
    explore(at, "SELECT 1; SELECT 2")
    assert "mismatched input ';'" in texts(at.error)  # Trino's parser: one statement per request
    explore(at, "SELECT ';' AS semicolon -- a comment; not a second statement")
    assert not at.error, texts(at.error)
    assert at.dataframe[0].value.iloc[0, 0] == ";"


def test_explore_caps_the_rows_and_keeps_a_history(open_page: OpenPage) -> None:
    at = open_page("explore", HARMONY_DASHBOARD__MAX_ROWS="50")
    settings = get_settings()
    explore(at, f"SELECT * FROM {settings.catalog.raw_namespace}.citizen_observations")
    assert "Only the first 50 rows" in texts(at.warning)
    assert len(at.dataframe[0].value) == 50
    explore(at, "SHOW SCHEMAS")
    history = at.session_state["history"]
    assert [h["rows"] for h in history][1] == 50 and len(history) == 2


def test_explore_answers_from_duckdb_when_trino_is_down(open_page: OpenPage) -> None:
    at = open_page("explore", HARMONY_TRINO__HTTPS_PORT=str(free_port()))
    settings = get_settings()
    explore(at, f"SELECT count(*) AS n FROM {Answer.BY_ZONE.identifier(settings)}")
    assert "DuckDB" in texts(at.warning)
    assert int(at.dataframe[0].value.iloc[0, 0]) == 16


def test_live_alerts_show_new_riots_escaped(open_page: OpenPage, analysed_lake: Lake) -> None:
    """On a copy of the seeded lake's live-alerts table: the alert added is this test's alone."""
    with alerts_copied(analysed_lake) as lake:
        show_new_riots_escaped(open_page, lake)


def show_new_riots_escaped(open_page: OpenPage, lake: Lake) -> None:
    at = open_page(
        "alerts",
        params={"kinds": "riot"},
        **{"HARMONY_POSTGRES__ALERTS_TABLE": lake.settings.postgres.alerts_table},
    )
    settings = get_settings()
    table = at.dataframe[0].value
    assert len(table) > 0 and set(table["kind"]) == {"riot"}
    hostile = "<script>alert(1)</script>**b**[x](http://e.x)';DROP TABLE x;--"  # fits an Id
    alert = Alert(
        alert_id=f"hostile-{uuid.uuid4().hex[:6]}",
        kind=AlertKind.RIOT,
        severity=Severity.CRITICAL,
        drone_id=hostile,
        zone=hostile,
        citizens=[f"c{i}" for i in range(12)],
        event_time=datetime.now(UTC),
        detected_at=datetime.now(UTC),
        reason=hostile,
    )
    conn = live_alerts.connect(settings)
    try:
        live_alerts.upsert(conn, settings, [alert])
    finally:
        conn.close()
    at.run()
    toasts = texts(at.toast)
    assert f"Riot in {ui.plain(hostile)}" in toasts, toasts
    assert "<script>" not in toasts.replace("\\<script\\>", "")
    table = at.dataframe[0].value
    assert table.iloc[0]["reason"] == hostile, "the table shows the text as it is"


def test_live_alerts_warn_while_the_alerting_processors_are_not_running(open_page: OpenPage) -> None:
    """The banner follows the broker's view of the two alerting groups, not how calm the city is."""
    group = f"absent-{uuid.uuid4().hex[:6]}"
    at = open_page("alerts", HARMONY_ALERTING__CONSUMER_GROUP=group)
    settings = get_settings()
    assert "alerting processors are not running" in texts(at.warning)
    assert ui.plain(group) in texts(at.warning)
    assert settings.alerting.consumer_group == group  # the consumers below join groups of this test only
    members = [
        Consumer(
            {
                **settings.kafka.client(),
                "group.id": g,
                "session.timeout.ms": 6000,
                "enable.auto.commit": False,
            }
        )
        for g in (settings.alerting.consumer_group, settings.alerting.delivery_group)
    ]
    try:
        for consumer, topic in zip(
            members, (settings.kafka.reports_topic, settings.kafka.alerts_topic), strict=True
        ):
            consumer.subscribe([topic])
            deadline = time.monotonic() + 30
            while not consumer.assignment() and time.monotonic() < deadline:
                consumer.poll(0.2)
            assert consumer.assignment(), f"joined {topic}'s group"
        ui.clear_caches()
        at.run()
        assert "not running" not in texts(at.warning)
    finally:
        for consumer in members:
            consumer.close()


@pytest.mark.parametrize(
    ("question", "charts", "maps"),
    [("Weekend effect", 1, 0), ("Hours and zones", 3, 1), ("Words of unrest", 1, 0)],
)
def test_each_question_of_the_answers_page_draws_its_charts(
    open_page: OpenPage, question: str, charts: int, maps: int
) -> None:
    """One question at a time, from the URL; every one under the same filters."""
    at = open_page("answers", params={"question": question, "daytype": "weekdays"})
    assert not at.exception and not at.error, texts(at.error)
    assert at.segmented_control(key="question").value == question
    assert len(at.get("vega_lite_chart")) == charts
    assert len(at.get("deck_gl_json_chart")) == maps
