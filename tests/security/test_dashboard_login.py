"""The dashboard beyond loopback, as someone on the network meets it: a login first, then a role.

The server listens on 0.0.0.0 (as in compose and Kubernetes) and is reached at 127.0.0.1. An operator
sees everything; an analyst sees no live alerts, and citizens' names masked by Trino's column masks.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
import trino.exceptions
from playwright.sync_api import Page

from dashboard import access
from lakehouse.catalog import load_catalog
from lakehouse.derive import arrow_schema
from lakehouse.query import trino_sql
from lakehouse.schemas import (
    Alert,
    AlertKind,
    Citizen,
    CitizenObservation,
    DroneHealth,
    DroneReport,
    Position,
    Severity,
)
from lakehouse.settings import Settings
from lakehouse.tables import ALERTS, CITIZEN_OBSERVATIONS, REPORTS, ensure_table, purge_namespace
from testkit.browser import Browser, DashboardServer, page_done
from testkit.lakes import settings_seen_by

SECRET_NAME = "Ada Secretname"


@dataclass(frozen=True)
class Lane:
    settings: Settings
    env: dict[str, str]
    namespace: str


@pytest.fixture(scope="module")
def lane(stack: Settings) -> Iterator[Lane]:
    """A raw namespace of its own with one report and its observation, of a citizen with a name."""
    namespace = f"test_login_{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "HARMONY_CATALOG__RAW_NAMESPACE": namespace}
    settings = settings_seen_by(env)
    catalog = load_catalog(stack)
    now = datetime.now(UTC).replace(microsecond=0)
    report = DroneReport(
        report_id="r-1", drone_id="drone-1", event_time=now, zone="Old Harbour",
        position=Position(lat=48.8, lon=2.3, altitude_m=80.0),
        health=DroneHealth(battery_pct=80.0, motor_temp_c=40.0, signal_dbm=-60.0, firmware="1.0"),
        citizens=[Citizen(citizen_id="c-1", name=SECRET_NAME, harmony_score=12.5)], words=["calm"],
    )  # fmt: skip
    observation = CitizenObservation(
        report_id="r-1", drone_id="drone-1", event_time=now, zone="Old Harbour",
        citizen_id="c-1", name=SECRET_NAME, harmony_score=12.5,
    )  # fmt: skip
    alert = Alert(
        alert_id="a-1", kind=AlertKind.LOW_HARMONY, severity=Severity.LOW, drone_id="drone-1",
        zone="Old Harbour", citizens=["c-1"], event_time=now, detected_at=now,
        reason=f"{SECRET_NAME} (c-1) scored 12.5",
    )  # fmt: skip
    for spec, row in ((REPORTS, report), (CITIZEN_OBSERVATIONS, observation), (ALERTS, alert)):
        table = ensure_table(catalog, spec, settings)
        rows = pa.Table.from_pylist([row.model_dump()], schema=arrow_schema(spec.model))
        table.append(rows.cast(table.schema().as_arrow()))
    try:
        yield Lane(settings, env, namespace)
    finally:
        purge_namespace(catalog, namespace)


def as_user(settings: Settings, user: str, statement: str) -> list[list[object]]:
    conn = trino_sql.connect(settings, user=user, catalog=settings.catalog.read_only_name)
    try:
        cur = conn.cursor()
        cur.execute(statement)
        return [list(r) for r in cur.fetchall()]
    finally:
        conn.close()  # type: ignore[no-untyped-call]


def test_trino_masks_names_for_analysts_only(lane: Lane) -> None:
    ns, dash = lane.namespace, lane.settings.dashboard
    flat = f"SELECT citizen_id, name, harmony_score FROM {ns}.citizen_observations"
    nested = (
        f"SELECT c.citizen_id, c.name, c.harmony_score FROM {ns}.reports CROSS JOIN UNNEST(citizens) AS c"
    )
    for statement in (flat, nested):
        assert as_user(lane.settings, dash.analyst_trino_user, statement) == [["c-1", "(masked)", 12.5]]
        assert as_user(lane.settings, dash.trino_user, statement) == [["c-1", SECRET_NAME, 12.5]]
    reason = f"SELECT reason FROM {ns}.alerts"
    assert as_user(lane.settings, dash.analyst_trino_user, reason) == [["(masked)"]]
    # Nor can an analyst get at the name another way: the mask applies before any expression sees it,
    # the metadata tables that carry column bounds are refused, and so are the connector's functions.
    sneaky = f"SELECT count(*) FROM {ns}.citizen_observations WHERE name LIKE 'Ada%'"
    assert as_user(lane.settings, dash.analyst_trino_user, sneaky) == [[0]]
    snapshot = as_user(
        lane.settings, dash.trino_user, f'SELECT max(snapshot_id) FROM {ns}."citizen_observations$snapshots"'
    )
    assert snapshot[0][0] is not None, "the value-free metadata tables stay readable"
    for leak in (
        f'SELECT lower_bounds, upper_bounds FROM {ns}."citizen_observations$files"',
        f'SELECT * FROM {ns}."citizen_observations$partitions"',
        f'SELECT * FROM {ns}."reports$entries"',
        f"SELECT * FROM TABLE(system.table_changes('{ns}', 'citizen_observations', 0, {snapshot[0][0]}))",
    ):
        with pytest.raises(trino.exceptions.TrinoQueryError, match=r"(?i)access denied"):
            as_user(lane.settings, dash.analyst_trino_user, leak)
    assert as_user(
        lane.settings, dash.analyst_trino_user, f'SELECT count(*) FROM {ns}."reports$snapshots"'
    ) == [[1]]


@pytest.fixture(scope="module")
def server(lane: Lane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DashboardServer]:
    env = {**lane.env, "HARMONY_DASHBOARD__HOST": "0.0.0.0"}
    with DashboardServer(env, tmp_path_factory.mktemp("login")) as served:
        yield served


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with Browser() as b:
        yield b


def sign_in(page: Page, password: str) -> None:
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def nav(page: Page) -> list[str]:
    return [t.strip() for t in page.locator("[data-testid=stSidebarNav] a").all_inner_texts()]


def explore(page: Page, statement: str) -> str:
    """Run ``statement`` on Explore and return what its CSV download holds (the grid is a canvas)."""
    area = page.locator("[data-testid=stTextArea] textarea")
    area.fill(statement)
    area.press("Control+Enter")
    page.get_by_role("button", name="Run").click()
    page.locator("[data-testid=stCaptionContainer]", has_text="rows in").wait_for(timeout=30_000)
    with page.expect_download(timeout=30_000) as download:
        page.get_by_role("button", name="Download CSV").click()
    return Path(download.value.path()).read_text()


@pytest.mark.parametrize("path", ["", "alerts", "explore"])
def test_beyond_loopback_every_page_asks_for_a_login_first(
    server: DashboardServer, browser: Browser, path: str
) -> None:
    page = browser.open(f"{server.url}/{path}")
    page.get_by_role("button", name="Sign in").wait_for(timeout=60_000)
    assert nav(page) == [], "no page is listed before a login"
    assert page.locator("[data-testid=stTextArea]").count() == 0
    assert SECRET_NAME not in page.content()
    sign_in(page, "not the password")
    page.locator("[data-testid=stAlertContentError]", has_text="Wrong password").wait_for(timeout=15_000)
    assert nav(page) == []
    page.close()


def test_an_analyst_sees_no_live_alerts_and_names_masked(
    server: DashboardServer, browser: Browser, lane: Lane
) -> None:
    page = browser.open(f"{server.url}/")
    sign_in(page, lane.settings.dashboard.analyst_password.get_secret_value())
    page.locator("[data-testid=stSidebarNav]").wait_for(timeout=60_000)
    assert "Live alerts" not in nav(page) and "Explore" in nav(page)
    page.get_by_role("link", name="Explore").click()
    page_done(page, "[data-testid=stTextArea]")
    csv = explore(page, f"SELECT citizen_id, name FROM {lane.namespace}.citizen_observations")
    assert csv.splitlines() == ["citizen_id,name", "c-1,(masked)"]
    assert SECRET_NAME not in page.content()
    page.close()


def test_an_operator_sees_every_page_and_the_names(
    server: DashboardServer, browser: Browser, lane: Lane
) -> None:
    page = browser.open(f"{server.url}/")
    sign_in(page, lane.settings.dashboard.operator_password.get_secret_value())
    page.locator("[data-testid=stSidebarNav]").wait_for(timeout=60_000)
    assert {"Overview", "Answers", "Live alerts", "Fleet health", "Explore"} <= set(nav(page))
    page.get_by_role("link", name="Explore").click()
    page_done(page, "[data-testid=stTextArea]")
    csv = explore(page, f"SELECT citizen_id, name FROM {lane.namespace}.citizen_observations")
    assert csv.splitlines() == ["citizen_id,name", f"c-1,{SECRET_NAME}"]
    page.close()


def test_the_login_rules() -> None:
    """Loopback needs no login; every other address does; a password maps to its role only."""
    assert not access.needs_login("127.0.0.1") and not access.needs_login("::1")
    assert not access.needs_login("localhost")
    assert access.needs_login("0.0.0.0") and access.needs_login(None) and access.needs_login("dash.example")
