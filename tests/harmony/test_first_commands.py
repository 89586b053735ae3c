"""A new user's first commands on a lane never used (issue 26): each works, or says in one line what to
run first, never with a traceback, and creates nothing on the way (no topic, namespace, table or group).

Every lane here has names of its own (topics, namespaces, groups, the live alerts table, the state
directory) that nothing has ever created; everything made under its token is removed afterwards.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient
from psycopg2 import sql
from streamlit.testing.v1 import AppTest

from dashboard import ui
from ingest.streams import STREAMS
from lakehouse.catalog import load_catalog
from lakehouse.query import live_alerts
from lakehouse.settings import Settings, get_settings
from lakehouse.tables import INGEST_STREAM, purge_namespace
from spark.maintenance import NOTHING_TO_MAINTAIN, nothing_to_maintain
from stack.manager import provision_topics
from testkit.commands import HARMONY
from testkit.lakes import settings_seen_by
from testkit.pages import APP, PAGES, use_env

COMMAND = re.compile(r"`harmony [^`]+`")  # what to run first, as the hints spell it


@dataclass
class Lane:
    token: str
    settings: Settings  # as its subprocesses see it
    env: dict[str, str]

    def harmony(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [HARMONY, *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )

    def topics(self) -> list[str]:
        admin = AdminClient(self.settings.kafka.client())
        return sorted(t for t in admin.list_topics(timeout=10).topics if self.token in t)

    def groups(self) -> list[str]:
        admin = AdminClient(self.settings.kafka.client())
        listed = admin.list_consumer_groups(request_timeout=10).result(10)
        return sorted(g.group_id for g in listed.valid if self.token in g.group_id)

    def namespaces(self) -> list[str]:
        catalog = load_catalog(self.settings)
        return sorted(".".join(ns) for ns in catalog.list_namespaces() if self.token in ".".join(ns))

    def alerts_table(self) -> bool:
        conn = live_alerts.connect(self.settings)
        try:
            return live_alerts.table_exists(conn, self.settings)
        finally:
            conn.close()

    def created(self) -> dict[str, object]:
        """Everything under this lane's token, wherever it could have been made."""
        return {
            "topics": self.topics(),
            "groups": self.groups(),
            "namespaces": self.namespaces(),
            "live alerts table": self.alerts_table(),
        }


@contextlib.contextmanager
def never_used_lane(stack: Settings, tmp: Path) -> Iterator[Lane]:
    """A lane whose topics, namespaces, groups and live alerts table have never existed; whatever a
    command made under its token is removed afterwards, however the test ended."""
    token = f"first{uuid.uuid4().hex[:8]}"
    names = {
        "HARMONY_KAFKA__REPORTS_TOPIC": f"test-{token}-reports",
        "HARMONY_KAFKA__ALERTS_TOPIC": f"test-{token}-alerts",
        "HARMONY_KAFKA__DEAD_LETTER_TOPIC": f"test-{token}-dead-letters",
        "HARMONY_CATALOG__RAW_NAMESPACE": f"test_{token}_raw",
        "HARMONY_CATALOG__ANSWERS_NAMESPACE": f"test_{token}_answers",
        "HARMONY_INGEST__CONSUMER_GROUP": f"test-{token}-ingest",
        "HARMONY_ALERTING__CONSUMER_GROUP": f"test-{token}-alerting",
        "HARMONY_POSTGRES__ALERTS_TABLE": f"test_{token}_alerts",
        "HARMONY_STATE_DIR": str(tmp / "state"),
    }
    env = {**os.environ, **names, "HARMONY_SPARK_DRIVER_MEMORY": "1g"}
    settings = settings_seen_by(env)
    lane = Lane(token, settings, env)
    assert not any(lane.created().values()), "a fresh token's names are free"
    try:
        yield lane
    finally:
        admin = AdminClient(stack.kafka.client())
        if topics := lane.topics():
            for fut in admin.delete_topics(topics).values():
                fut.result(15)
        if groups := lane.groups():
            for fut in admin.delete_consumer_groups(groups, request_timeout=15).values():
                with contextlib.suppress(Exception):  # a group still settling is removed by the broker
                    fut.result(15)
        catalog = load_catalog(stack)
        for ns in (settings.catalog.raw_namespace, settings.catalog.answers_namespace):
            purge_namespace(catalog, ns)
        conn = live_alerts.connect(stack)
        try:
            with conn.cursor() as cur:
                cur.execute(
                    sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(settings.postgres.alerts_table))
                )
            conn.commit()
        finally:
            conn.close()


@pytest.fixture(scope="module")
def empty_lane(stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lane]:
    with never_used_lane(stack, tmp_path_factory.mktemp("never-used")) as lane:
        yield lane


def lines(out: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in (out.stdout + out.stderr).splitlines() if line.strip()]


def assert_one_line_hint(out: subprocess.CompletedProcess[str], what: str) -> str:
    """No traceback; the whole output is one line naming a `harmony …` command to run first."""
    text = out.stdout + out.stderr
    assert "Traceback" not in text, f"{what}: a traceback\n{text[-3000:]}"
    said = lines(out)
    assert len(said) == 1, f"{what}: {len(said)} lines, not one\n{text[-3000:]}"
    assert COMMAND.search(said[0]), f"{what}: names no `harmony …` command: {said[0]}"
    return said[0]


PAST = f"{datetime.now(UTC) - timedelta(days=3):%Y-%m-%d}"
# What a user may run first, with the one line each must answer with on a lane never used.
FIRST_COMMANDS = [
    pytest.param(("simulate", "--count", "100", "--rate", "1000"), "`harmony stack up`", id="simulate-live"),
    pytest.param(
        ("simulate", "--start", PAST, "--days", "0.01"), "`harmony stack up`", id="simulate-backfill"
    ),
    pytest.param(("ingest", "--timeout", "5"), "does not exist: run `harmony stack up`", id="ingest"),
    pytest.param(
        ("ingest", "--stream", "alerts", "--timeout", "5"),
        "does not exist: run `harmony stack up`",
        id="ingest-alerts",
    ),
    pytest.param(("ingest", "status"), "does not exist: run `harmony stack up`", id="ingest-status"),
    pytest.param(("alert", "--timeout", "5"), "does not exist: run `harmony stack up`", id="alert"),
    pytest.param(
        ("analyze",),
        "does not exist yet: run `harmony simulate` then `harmony ingest`",
        id="analyze",
    ),
    pytest.param(("sql", "SELECT count(*) FROM {raw}.reports"), "run `harmony demo`", id="sql-trino"),
    pytest.param(
        ("sql", "--engine", "duckdb", "SELECT count(*) FROM {raw}.reports"),
        "run `harmony demo`",
        id="sql-duckdb",
    ),
    pytest.param(
        ("lake", "maintain"),
        NOTHING_TO_MAINTAIN,
        id="lake-maintain",
    ),
    pytest.param(
        ("maintenance", "train"),
        "does not exist yet",
        id="maintenance-train",
    ),
    pytest.param(
        ("maintenance", "score"),
        "does not exist yet",
        id="maintenance-score",
    ),
]


@pytest.mark.parametrize(("args", "expected"), FIRST_COMMANDS)
def test_a_first_command_on_a_never_used_lane(empty_lane: Lane, args: tuple[str, ...], expected: str) -> None:
    argv = [a.format(raw=empty_lane.settings.catalog.raw_namespace) for a in args]
    out = empty_lane.harmony(*argv)
    said = assert_one_line_hint(out, " ".join(argv))
    assert expected in said, said
    nothing_to_do = argv[:2] == ["lake", "maintain"]
    assert (out.returncode == 0) == nothing_to_do, f"exit {out.returncode}: {said}"
    assert not any(empty_lane.created().values()), f"{' '.join(argv)} created {empty_lane.created()}"


def test_nothing_to_maintain_is_decided_from_the_catalog(empty_lane: Lane) -> None:
    """`harmony lake maintain`'s check, without the JVM its command starts after it."""
    assert nothing_to_maintain(empty_lane.settings) == NOTHING_TO_MAINTAIN


def test_every_raw_table_names_the_stream_that_lands_it() -> None:
    """``lakehouse.tables.INGEST_STREAM`` (what the hints say) is what ``ingest.streams`` does."""
    landed = {spec.name: name for name, stream in STREAMS.items() for spec, _ in stream.tables}
    assert landed == INGEST_STREAM


def test_provisioned_but_empty_lane(stack: Settings, tmp_path: Path) -> None:
    """Topics as `harmony stack up` makes them, nothing in them: the workers run and stop cleanly, the
    others say what to run first; the delivery worker creates the live alerts table when it starts."""
    with never_used_lane(stack, tmp_path) as lane:
        provision_topics(lane.settings)
        out = lane.harmony("ingest", "status")
        assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
        assert "nothing landed in the lake yet: run `harmony ingest`" in out.stderr
        assert "`harmony simulate` fills it" in out.stderr
        for args in (("ingest", "--timeout", "5"), ("ingest", "--stream", "alerts", "--timeout", "5")):
            out = lane.harmony(*args)
            assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr[-3000:]
            assert "landed 0 rows" in out.stderr
        assert not lane.alerts_table()
        out = lane.harmony("alert", "--timeout", "5", "--quiet")
        assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr[-3000:]
        assert "raised 0 alerts" in out.stderr
        assert lane.alerts_table(), "made when the delivery worker started, not at the first alert"
        out = lane.harmony("analyze")
        assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr[-3000:]
        said = " ".join(out.stderr.split())  # one message (whether rich wraps it is the first part's test)
        assert "has no data yet" in said and "`harmony simulate` then `harmony ingest`" in said, said


# ---- the dashboard on a lane never used ---------------------------------------------------------------


@pytest.fixture()
def open_empty_page(empty_lane: Lane, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], AppTest]]:
    """Open a page of the app (Streamlit's AppTest, in this process) with the settings of the empty lane."""
    use_env(monkeypatch, empty_lane.env)

    def open_(page: str) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=90)
        at.run()
        if page != "overview":
            at.switch_page(PAGES[page]).run()
        return at

    yield open_
    get_settings.cache_clear()
    ui.clear_caches()


def texts(elements: object) -> str:
    return "\n".join(str(getattr(e, "value", "")) for e in elements)  # type: ignore[attr-defined]


@pytest.mark.parametrize("page", list(PAGES))
def test_a_page_on_a_never_used_lane_says_what_to_run(
    open_empty_page: Callable[[str], AppTest], empty_lane: Lane, page: str
) -> None:
    at = open_empty_page(page)
    if page == "explore":  # the pre-filled example, run as a new user would
        at.button(key="run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, texts(at.error)
    assert COMMAND.search(texts(at.info)), texts(at.info)
    assert not any(empty_lane.created().values()), empty_lane.created()
