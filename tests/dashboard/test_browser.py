"""The dashboard as a person sees it: the real server in headless Chromium (Debian's, driven by
Playwright), on the seeded lake. Screenshots go to ``.harmony/screenshots`` (git-ignored)."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from lakehouse.city import CITY
from lakehouse.schemas import Citizen, DroneHealth, DroneReport, Position
from tests.commands import HARMONY
from tests.dashboard.browser import DONE_WHEN, Browser, DashboardServer, page_done
from tests.seeded import SeededLake

SHOTS = Path(__file__).parents[2] / ".harmony" / "screenshots"
EXPECTED = {path: selector for path, selector in DONE_WHEN.values()}  # path -> done when shown


@pytest.fixture(scope="module")
def server(analysed_lake: SeededLake) -> Iterator[DashboardServer]:
    with DashboardServer(analysed_lake.env, analysed_lake.tmp) as served:
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
    page = browser.open(f"{server.url}/answers?daytype=weekends&live=false")
    page_done(page, EXPECTED["answers"])
    assert page.get_by_role("radio", name="weekends").get_attribute("aria-checked") == "true"
    page.get_by_role("radio", name="weekdays").click()
    page.wait_for_function("() => location.search.includes('daytype=weekdays')", timeout=15_000)
    page.close()


def riot_reports(zone: str, n: int = 14) -> list[DroneReport]:
    """``n`` reports from one zone, now, each with one distinct citizen far below the harmony threshold."""
    z = next(z for z in CITY.zones if z.name == zone)
    token = uuid.uuid4().hex[:6]
    now = datetime.now(UTC)
    return [
        DroneReport(
            report_id=f"browser-{token}-{i}",
            drone_id=f"drone-browser-{i % 3}",
            event_time=now,
            position=Position(lat=z.centre[0], lon=z.centre[1], altitude_m=80.0),
            zone=zone,
            health=DroneHealth(battery_pct=80.0, motor_temp_c=40.0, signal_dbm=-60.0, firmware="1.0"),
            citizens=[Citizen(citizen_id=f"cit-{token}-{i}", name=f"Citizen {i}", harmony_score=3.0)],
            words=["riot"],
        )
        for i in range(n)
    ]


def test_a_riot_in_the_stream_appears_on_the_live_page(
    server: DashboardServer, browser: Browser, analysed_lake: SeededLake
) -> None:
    """reports → Kafka → the alerting processor → PostgreSQL → the page, within seconds.

    On topics of its own (the seeded lake's topics are the other areas' ground truth); the live table is
    the one the page reads."""
    token = uuid.uuid4().hex[:6]
    env = {
        **analysed_lake.env,
        "HARMONY_KAFKA__REPORTS_TOPIC": f"test-browser-reports-{token}",
        "HARMONY_KAFKA__ALERTS_TOPIC": f"test-browser-alerts-{token}",
        "HARMONY_ALERTING__CONSUMER_GROUP": f"test-browser-alerting-{token}",
    }
    topics = [env["HARMONY_KAFKA__REPORTS_TOPIC"], env["HARMONY_KAFKA__ALERTS_TOPIC"]]
    admin = AdminClient({"bootstrap.servers": analysed_lake.settings.kafka.bootstrap_servers})
    for topic in topics:
        admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])[topic].result(15)
    log = (analysed_lake.tmp / f"alert-{token}.log").open("ab")
    alerting = subprocess.Popen([HARMONY, "alert", "--quiet"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        page = browser.open(f"{server.url}/alerts")
        page_done(page, EXPECTED["alerts"])
        time.sleep(3)  # the processor has joined its group
        zone = CITY.zones[5].name
        producer = Producer({"bootstrap.servers": analysed_lake.settings.kafka.bootstrap_servers})
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


def test_explore_refuses_a_drop_in_the_browser(server: DashboardServer, browser: Browser) -> None:
    page = browser.open(f"{server.url}/explore")
    page_done(page, EXPECTED["explore"])
    area = page.locator("[data-testid=stTextArea] textarea")
    area.fill("DROP TABLE raw.reports")
    area.press("Control+Enter")
    page.get_by_role("button", name="Run").click()
    page.locator("[data-testid=stAlertContentError]", has_text="DROP is not allowed").wait_for(timeout=15_000)
    page.close()
