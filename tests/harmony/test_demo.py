"""The main job as a new user runs it: `harmony demo` on a lane that has never been used, then every
dashboard page in a real browser.

The lane's topics, dead-letter topic, namespaces, consumer groups and live-alerts table do not exist
before the demo (it creates what it needs, as on a fresh machine); the stack is the session's. Asserted:
what the demo promises (every report produced is in the lake, every injected riot alerted, the answers,
a trained model and the scored fleet, nothing dated after now), that the Fleet health page's at-risk
count is within a factor of two of the failures the simulator's ground truth has in the next 24 h, that
a second run goes on from the lake's newest event, and that neither the demo's output nor the dashboard
server's log holds a warning or a traceback.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from harmony.demo import DEMO_INTERVAL_S, DEMO_WEAR_LIFE_DAYS, demo_folder
from harmony.reset import product_groups
from lakehouse.catalog import load_catalog
from lakehouse.query.lake_state import newest_event, table_state
from lakehouse.settings import Settings
from lakehouse.tables import DRONE_RISK, REPORTS, Answer, latest_model_card
from simulator.episodes import read_ground_truth
from testkit.browser import DONE_WHEN, NOISE, SHOTS, Browser, DashboardServer, page_done
from testkit.commands import HARMONY
from testkit.lakes import lake_names, remove_lake, settings_seen_by

DRONES = 48
PAGES = {**DONE_WHEN, "fleet": ("fleet", "[data-testid=stDeckGlJsonChart]")}


@pytest.fixture
def lane(stack: Settings) -> Iterator[tuple[Settings, dict[str, str]]]:
    """A lane never used before: names of its own, nothing created in advance; all removed after."""
    token = uuid.uuid4().hex[:8]
    names = {
        **lake_names("test", "demo", token),
        "HARMONY_KAFKA__DEAD_LETTER_TOPIC": f"test-demo-dead-{token}",
    }
    admin = AdminClient(stack.kafka.client())
    assert not [t for t in admin.list_topics(timeout=10).topics if token in t], "a lane never used"
    env = {**os.environ, **names, "HARMONY_SPARK_DRIVER_MEMORY": "1g"}
    settings = settings_seen_by(env)
    try:
        yield settings, env
    finally:
        groups = list(product_groups(settings))
        for fut in admin.delete_consumer_groups(groups).values():
            with contextlib.suppress(Exception):  # a group the demo never joined
                fut.result(30)
        remove_lake(stack, env, token, admin, timeout_s=30)


def demo(env: dict[str, str], *args: str) -> str:
    out = subprocess.run(
        [HARMONY, "demo", "--no-serve", *args], env={**env, "COLUMNS": "200"}, capture_output=True, text=True,
        timeout=1_500, check=False,
    )  # fmt: skip
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-4000:]
    assert not NOISE.search(text), f"the demo's output holds a warning or a traceback:\n{text[-4000:]}"
    return text


def topic_end(settings: Settings) -> int:
    consumer = Consumer(settings.kafka.client({"group.id": "test-demo-ends"}))
    try:
        md = consumer.list_topics(settings.kafka.reports_topic, timeout=10).topics[
            settings.kafka.reports_topic
        ]
        return sum(
            consumer.get_watermark_offsets(TopicPartition(settings.kafka.reports_topic, p), timeout=10)[1]
            for p in md.partitions
        )
    finally:
        consumer.close()


def failures_in_the_next_day(after: datetime, tmp: Path) -> int:
    """The simulator's ground truth: drones of the demo's fleet that fail in the 24 h after ``after``
    (wear is a function of the seed and the time, so a dry run of that day tells)."""
    truth = tmp / "next-day.jsonl"
    subprocess.run(
        [HARMONY, "simulate", "--dry-run", "--allow-future", "--start", after.strftime("%Y-%m-%dT%H:%M:%S"),
         "--days", "1", "--drones", str(DRONES), "--interval", f"{DEMO_INTERVAL_S:g}",
         "--wear-life-days", f"{DEMO_WEAR_LIFE_DAYS:g}", "--ground-truth", str(truth)],
        stdout=subprocess.DEVNULL, check=True, timeout=300,
    )  # fmt: skip
    return len({r["drone_id"] for r in read_ground_truth(truth, "failure")})


def test_demo_on_a_lane_that_never_existed_fills_every_page(
    lane: tuple[Settings, dict[str, str]], tmp_path: Path
) -> None:
    settings, env = lane
    text = demo(env)
    catalog = load_catalog(settings)

    reports = table_state(catalog, REPORTS.identifier(settings))
    assert reports is not None and reports.rows == topic_end(settings) > 0, "every report produced landed"
    newest = newest_event(catalog, REPORTS.identifier(settings))
    assert newest is not None and newest <= datetime.now(UTC), "nothing dated after now"
    assert newest > datetime.now(UTC) - timedelta(minutes=30), "the history ends now"

    episodes = read_ground_truth(demo_folder(settings) / "ground_truth.jsonl", "riot")
    m = re.search(r"(\d+) riot episodes? injected, (\d+) of them alerted", text)
    assert m is not None and int(m[1]) == len(episodes) > 0 and m[2] == m[1], "every injected riot alerted"

    for answer in Answer:
        state = table_state(catalog, answer.identifier(settings))
        assert state is not None and state.rows > 0, answer
    card = latest_model_card(catalog, settings)
    assert card is not None and card.pr_auc > card.baseline_pr_auc, "the model beats the battery rule"
    risk = catalog.load_table(DRONE_RISK.identifier(settings)).scan().to_arrow().to_pylist()
    assert len(risk) == DRONES
    at_risk = sum(r["at_risk"] for r in risk)
    coming = failures_in_the_next_day(newest, tmp_path)
    assert coming / 2 <= at_risk <= 2 * coming, (at_risk, coming)

    with DashboardServer(env, tmp_path) as server, Browser() as browser:
        SHOTS.mkdir(parents=True, exist_ok=True)
        for name, (path, selector) in PAGES.items():
            page = browser.open(f"{server.url}/{path}?live=false")
            page_done(page, selector)
            page.screenshot(path=str(SHOTS / f"demo-{name}.png"), full_page=True)
            assert page.locator("[data-testid=stException]").count() == 0, name
            hints = re.findall(r"[^.\n]* yet[^.\n]*`harmony [^`]+`", page.inner_text("[data-testid=stMain]"))
            assert not hints, f"{name} is not filled: {hints}"
            page.close()
        assert not browser.console_errors, browser.console_errors
    log = server.log_path.read_text()
    assert not NOISE.search(log), f"the dashboard server's log holds a warning or a traceback:\n{log[-4000:]}"

    again = demo(env)
    assert re.search(r"the lake goes up to .* this run adds the", again) or "the lake is up to date" in again
    second = newest_event(catalog, REPORTS.identifier(settings))
    assert second is not None and newest <= second <= datetime.now(UTC), "on from the lake, never past now"
