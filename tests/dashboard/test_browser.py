"""The dashboard as a person sees it: the real server in headless Chromium (Debian's, driven by
Playwright), on the seeded lake. Screenshots go to ``.harmony/screenshots`` (git-ignored)."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator

import httpx
import orjson
import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from playwright.sync_api import Page

from lakehouse.city import CITY
from lakehouse.query.engines import Engine, run
from lakehouse.settings import Settings
from lakehouse.tables import Answer
from testkit.browser import (
    DONE_WHEN,
    SHOTS,
    Browser,
    DashboardServer,
    free_port,
    page_done,
    riot_reports,
)
from testkit.commands import HARMONY
from testkit.lakes import Lake, alerts_copied

EXPECTED = {path: selector for path, selector in DONE_WHEN.values()}  # path -> done when shown


@pytest.fixture(scope="module")
def browsed_lake(analysed_lake: Lake) -> Iterator[Lake]:
    """The seeded lake with a live-alerts table of this module's own: the live test adds alerts to it."""
    with alerts_copied(analysed_lake) as lake:
        yield lake


@pytest.fixture(scope="module")
def server(browsed_lake: Lake) -> Iterator[DashboardServer]:
    with DashboardServer(browsed_lake.env, browsed_lake.tmp) as served:
        yield served


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with Browser() as b:
        yield b


@pytest.mark.parametrize("path", list(EXPECTED))
def test_each_page_reaches_done_with_no_error(server: DashboardServer, browser: Browser, path: str) -> None:
    page = browser.open(f"{server.url}/{path}?live=false")
    browser.console_errors.clear()
    page_done(page, EXPECTED[path])
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{path or 'overview'}.png"), full_page=True)
    assert page.locator("[data-testid=stException]").count() == 0
    assert not browser.console_errors, browser.console_errors
    outside = [
        u
        for u in browser.requests
        if not u.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:"))
    ]
    assert not outside, f"requests leaving the machine: {outside[:5]}"
    page.close()


def test_a_deep_link_restores_the_filters_and_a_change_rewrites_the_url(
    server: DashboardServer, browser: Browser
) -> None:
    page = browser.open(f"{server.url}/answers?daytype=weekends&question=Hours+and+zones&live=false")
    page_done(page, EXPECTED["answers"])
    assert page.get_by_role("radio", name="weekends", exact=True).get_attribute("aria-checked") == "true"
    assert page.get_by_role("radio", name="Hours and zones").get_attribute("aria-checked") == "true"
    page.get_by_role("radio", name="weekdays", exact=True).click()
    page.wait_for_function("() => location.search.includes('daytype=weekdays')", timeout=15_000)
    page.close()


def test_a_riot_in_the_stream_appears_on_the_live_page(
    server: DashboardServer, browser: Browser, browsed_lake: Lake
) -> None:
    """reports → Kafka → the alerting processor → PostgreSQL → the page, within seconds.

    On topics of its own (the seeded lake's topics are the other areas' ground truth); the live table is
    the one the page reads."""
    token = uuid.uuid4().hex[:6]
    env = {
        **browsed_lake.env,
        "HARMONY_KAFKA__REPORTS_TOPIC": f"test-browser-reports-{token}",
        "HARMONY_KAFKA__ALERTS_TOPIC": f"test-browser-alerts-{token}",
        "HARMONY_ALERTING__CONSUMER_GROUP": f"test-browser-alerting-{token}",
    }
    topics = [env["HARMONY_KAFKA__REPORTS_TOPIC"], env["HARMONY_KAFKA__ALERTS_TOPIC"]]
    admin = AdminClient(browsed_lake.settings.kafka.client())
    for topic in topics:
        admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])[topic].result(15)
    log = (browsed_lake.tmp / f"alert-{token}.log").open("ab")
    alerting = subprocess.Popen([HARMONY, "alert", "--quiet"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        page = browser.open(f"{server.url}/alerts")
        page_done(page, EXPECTED["alerts"])
        time.sleep(3)  # the processor has joined its group
        zone = CITY.zones[5].name
        producer = Producer(browsed_lake.settings.kafka.client())
        sent = time.monotonic()
        for report in riot_reports(zone):
            producer.produce(
                env["HARMONY_KAFKA__REPORTS_TOPIC"],
                key=report.drone_id.encode(),
                value=orjson.dumps(report.model_dump(mode="json")),
            )
        producer.flush(10)
        toast = page.locator("[data-testid=stToast]", has_text=f"Riot in {zone}")
        toast.first.wait_for(timeout=20_000)
        seen_after = time.monotonic() - sent
        assert seen_after < 20
        page.screenshot(path=str(SHOTS / "alerts-live.png"), full_page=True)
        page.close()
    finally:
        alerting.terminate()
        alerting.wait(30)
        for future in admin.delete_topics(topics).values():
            future.result(15)


def test_pausing_stops_the_refresh(server: DashboardServer, browser: Browser) -> None:
    page = browser.open(f"{server.url}/alerts?live=false")
    page_done(page, EXPECTED["alerts"])
    first = page.locator("[data-testid=stCaptionContainer]", has_text="refreshed").first.inner_text()
    time.sleep(5)
    assert page.locator("[data-testid=stCaptionContainer]", has_text="refreshed").first.inner_text() == first
    assert "paused" in first
    page.close()


def run_sql(page: Page, statement: str) -> None:
    area = page.locator("[data-testid=stTextArea] textarea")
    area.fill(statement)
    area.press("Control+Enter")
    page.get_by_role("button", name="Run").click()


def test_explore_refuses_writes_and_several_statements_and_caps_rows(
    server: DashboardServer, browser: Browser, analysed_lake: Lake
) -> None:
    page = browser.open(f"{server.url}/explore")
    page_done(page, EXPECTED["explore"])
    run_sql(page, "DROP TABLE raw.reports")  # Trino's parser gives it a type its resource groups refuse
    page.locator("[data-testid=stAlertContentError]", has_text="only a query runs here").wait_for(
        timeout=15_000
    )
    run_sql(page, "SELECT 1; SELECT 2")  # Trino's parser: one statement per request
    page.locator("[data-testid=stAlertContentError]", has_text="mismatched input ';'").wait_for(
        timeout=15_000
    )
    raw = analysed_lake.settings.catalog.raw_namespace
    run_sql(page, f"SELECT * FROM {raw}.citizen_observations")
    limit = analysed_lake.settings.dashboard.max_rows
    page.locator("[data-testid=stAlertContentWarning]", has_text=f"Only the first {limit:,} rows").wait_for(
        timeout=30_000
    )
    assert page.locator("[data-testid=stCaptionContainer]", has_text=f"{limit:,} rows in").count() == 1
    page.close()


def test_explore_answers_from_duckdb_with_a_banner_when_trino_is_down(
    browser: Browser, analysed_lake: Lake
) -> None:
    env = {**analysed_lake.env, "HARMONY_TRINO__HTTPS_PORT": str(free_port())}
    with DashboardServer(env, analysed_lake.tmp) as down:
        page = browser.open(f"{down.url}/explore")
        page_done(page, EXPECTED["explore"])
        run_sql(page, f"SELECT count(*) AS n FROM {Answer.BY_ZONE.identifier(analysed_lake.settings)}")
        page.locator("[data-testid=stAlertContentWarning]", has_text="embedded DuckDB").wait_for(
            timeout=60_000
        )
        assert page.locator("[data-testid=stCaptionContainer]", has_text="answered by").first.inner_text()
        page.close()


def endless(token: str) -> str:
    """A read that would run for hours (10^12 rows), marked with ``token`` to find it on Trino."""
    return (
        f"SELECT count(*) AS n, '{token}' AS mark FROM UNNEST(sequence(1, 10000)) a(x)\n"
        "CROSS JOIN UNNEST(sequence(1, 10000)) b(y) CROSS JOIN UNNEST(sequence(1, 10000)) c(z)"
    )


def trino_state(settings: Settings, token: str) -> list[tuple[object, ...]]:
    """The dashboard user's queries carrying ``token``, as Trino itself reports them (admin's view)."""
    return run(
        "SELECT state, error_code FROM system.runtime.queries "
        f"WHERE \"user\" = '{settings.dashboard.trino_user}' AND query LIKE '%''{token}''%' "
        "AND query NOT LIKE '%system.runtime%'",
        settings,
        Engine.TRINO,
    ).rows


def test_explore_cancels_a_query_on_trino_and_the_server_times_out_a_slow_one(
    server: DashboardServer, browser: Browser, analysed_lake: Lake
) -> None:
    page = browser.open(f"{server.url}/explore")
    page_done(page, EXPECTED["explore"])
    token = uuid.uuid4().hex[:8]
    run_sql(page, endless(token))
    page.locator("[data-testid=stAlertContentInfo]", has_text="Running for").wait_for(timeout=15_000)
    page.get_by_role("button", name="Cancel").click()
    page.locator("[data-testid=stAlertContentInfo]", has_text="was cancelled").wait_for(timeout=15_000)
    deadline = time.monotonic() + 15
    while (states := trino_state(analysed_lake.settings, token)) != [("FAILED", "USER_CANCELED")]:
        assert time.monotonic() < deadline, f"Trino did not cancel the query: {states}"
        time.sleep(0.5)

    token = uuid.uuid4().hex[:8]
    started = time.monotonic()
    run_sql(page, endless(token))
    limit = analysed_lake.settings.dashboard.query_timeout_s
    page.locator(
        "[data-testid=stAlertContentError]", has_text=f"ran past {limit} s and was stopped"
    ).wait_for(timeout=(limit + 40) * 1000)
    assert time.monotonic() - started >= limit
    assert trino_state(analysed_lake.settings, token) == [("FAILED", "EXCEEDED_TIME_LIMIT")]
    page.close()


def test_stopping_harmony_dashboard_stops_its_server(analysed_lake: Lake) -> None:
    """SIGTERM to `harmony dashboard` stops the server itself: no orphan goes on serving the port."""
    with DashboardServer(analysed_lake.env, analysed_lake.tmp) as served:
        assert httpx.get(f"{served.url}/_stcore/health", timeout=5).status_code == 200
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{served.url}/_stcore/health", timeout=2)
