"""Hostile text through the real pipeline: nothing a message carries stops a sink, a worker or a page.

Hypothesis draws every text field of a batch of reports (citizen name and id, words, zone, drone id,
firmware, report id) from control characters, NUL, lone surrogates (as JSON escapes), bidi overrides,
combining marks, megabyte strings, rich and HTML markup, SQL and spreadsheet formulas, plus any text at
all. They go to Kafka, through ingest and alerting (`harmony alert` with a webhook on a local server) to
every sink: the lake, PostgreSQL, the webhook, the console, and the Live alerts page in Chromium. Then
the topics a processor reads get what they should never hold (keys that are not UTF-8, JSON that is not
an alert or a zone message, an alert PostgreSQL cannot store), and the workers must go on.
"""

from __future__ import annotations

import subprocess
import threading
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from alerting.sinks import PostgresAlertSink
from lakehouse.catalog import load_catalog
from lakehouse.codec import ContractError, decode, encode
from lakehouse.dead_letters import HEADER_ORIGINAL, HEADER_REASON
from lakehouse.schemas import NOT_TEXT_RE, Alert, AlertKind, DroneReport, Severity
from lakehouse.tables import REPORTS
from lakehouse.terminal import printable
from testkit.alert_lane import AlertLane
from testkit.browser import DONE_WHEN, NOISE, SHOTS, Browser, DashboardServer, page_done
from testkit.commands import HARMONY
from testkit.dead_letters import dead_letters_from
from testkit.lakes import settings_seen_by
from testkit.messages import any_text, characters
from testkit.parking import wait_for

SURROGATE = "\ue000lone"  # replaced by a lone surrogate's JSON escape once the report is encoded
HOSTILE = [
    "\x00", "a\x00b", "\x1b]0;pwned\x07", "\x1b[2J", "line\r\nbreak", "\t", "\x7f", "\x85",
    "\u202eevil", "\u2066x\u2069", "a\u2028b", "e\u0301\u0301\u0301", "\u200f\u05e9\u05dc\u05d5\u05dd",
    "<script>window.__pwned=1</script>", "<img src=x onerror=window.__pwned=1>", "[bold red]rich[/]",
    ":smile:", "'; DROP TABLE live_alerts; --", '=HYPERLINK("http://evil","x")', "+1", "-1", "@SUM(A1)",
    SURROGATE, "x" * (1 << 20), "\U0001f600" * 16, "é" * 65,
]  # fmt: skip
REPORTS_N = 60


@st.composite
def hostile_reports(draw: st.DrawFn, t0: datetime) -> list[tuple[bytes | None, bytes]]:
    """REPORTS_N reports: every third one all admissible text (drawn), the others with one hostile value
    (a sample, in a drawn order so that every sample is used, or any text at all) in one field each, in
    turn, and drawn admissible text elsewhere. Hypothesis's first draw is its simplest, so the mix is by
    construction, not by luck."""
    samples = draw(st.permutations(HOSTILE))
    fields = ["report_id", "drone_id", "zone", "firmware", "citizen_id", "name", "word"]
    out = []
    for i in range(REPORTS_N):
        value = {f: draw(st.text(characters, min_size=1, max_size=16)) for f in fields}
        if i % 3:
            bad = samples[i % len(samples)] if i % 2 else draw(any_text.filter(bool))
            value[fields[i % len(fields)]] = bad
        at = t0 + timedelta(seconds=i)
        report: dict[str, Any] = {
            "report_id": f"{i:03d}{value['report_id']}",
            "drone_id": value["drone_id"],
            "event_time": at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "position": {"lat": 48.85, "lon": 2.35, "altitude_m": 100},
            "zone": value["zone"],
            "health": {
                "battery_pct": 80,
                "motor_temp_c": 40,
                "signal_dbm": -60,
                "firmware": value["firmware"],
            },
            # a distinct citizen per report (the prefix), below the threshold: one alert per accepted report
            "citizens": [
                {"citizen_id": f"{i:03d}{value['citizen_id']}", "name": value["name"], "harmony_score": 1}
            ],
            "words": [value["word"], samples[(i + 1) % len(samples)] if i % 5 == 1 else "calm"],
        }
        raw = orjson.dumps(report).replace(SURROGATE.encode(), b"\\ud800")
        if len(raw) > 3 << 20:
            continue  # several megabyte strings in one report: one is enough to be refused for its size
        key = [report["drone_id"].encode("utf-8", "replace"), b"\xff\xfe", None][i % 3]
        out.append((key, raw))
    return out


def _verdicts(batch: list[tuple[bytes | None, bytes]]) -> tuple[dict[bytes, DroneReport], list[bytes]]:
    """The contract's own verdict on each report: accepted (by value) or refused."""
    accepted: dict[bytes, DroneReport] = {}
    refused = []
    for _, raw in batch:
        try:
            accepted[raw] = decode(DroneReport, raw)
        except ContractError:
            refused.append(raw)
    return accepted, refused


class Hook:
    """A webhook receiver on a local port: every alert it was sent, with its idempotency key."""

    def __init__(self) -> None:
        self.received: dict[str, bytes] = {}
        self.keys: list[str] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                hook.received[decode(Alert, body).alert_id] = body
                hook.keys.append(self.headers["idempotency-key"])
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"


def _produce(
    servers: str, topic: str, messages: Sequence[tuple[bytes | None, bytes]], partition: int | None = None
) -> None:
    producer = Producer({"bootstrap.servers": servers, "message.max.bytes": 8_000_000})
    for key, value in messages:
        if partition is None:
            producer.produce(topic, value=value, key=key)
        else:
            producer.produce(topic, value=value, key=key, partition=partition)
    assert producer.flush(30) == 0


def _lake_report_ids(lane: AlertLane) -> list[str]:
    settings = settings_seen_by(lane.env)
    table = load_catalog(settings).load_table(REPORTS.identifier(settings))
    return [str(v) for v in table.scan(selected_fields=("report_id",)).to_arrow()["report_id"].to_pylist()]


def _alert(alert_id: str, zone: str, reason: str) -> Alert:
    now = datetime.now(UTC)
    return Alert(
        alert_id=alert_id, kind=AlertKind.LOW_HARMONY, severity=Severity.LOW, drone_id="d", zone=zone,
        citizens=["c"], event_time=now, detected_at=now, reason=reason,
    )  # fmt: skip


@settings(
    max_examples=1, deadline=None, database=None, phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)  # fmt: skip
@given(data=st.data())
def test_hostile_text_lands_or_is_dead_lettered_and_every_alert_reaches_every_sink(
    alert_lane: AlertLane, tmp_path: Path, data: st.DataObject
) -> None:
    lane, servers = alert_lane, alert_lane.settings.kafka.bootstrap_servers
    batch = data.draw(hostile_reports(datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)))
    accepted, refused = _verdicts(batch)
    assert accepted and refused, "the draw holds both kinds (the samples make sure of it)"
    _produce(servers, lane.reports, batch)

    hook = Hook()
    env = {**lane.env, "COLUMNS": "100000"}  # one console line per alert, never wrapped
    alert = subprocess.Popen(  # not the lane's helper: that one runs --quiet, and the console is a sink
        [HARMONY, "alert", "--webhook", hook.url],
        env=env, stdout=(tmp_path / "console.log").open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    lane.procs.append(alert)
    ingest = subprocess.Popen(
        [HARMONY, "ingest", "--stream", "reports"],
        env=lane.env, stdout=(tmp_path / "ingest.log").open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    lane.procs.append(ingest)
    lane.wait_caught_up(240)

    # Every report lands or is dead-lettered with a reason, by each processor that reads it.
    wait_for(lambda: len(_lake_report_ids(lane)) >= len(accepted), 180)
    landed = _lake_report_ids(lane)
    assert Counter(landed) == Counter(r.report_id for r in accepted.values()), "exactly the accepted ones"
    letters = dead_letters_from(lane.settings, lane.reports)
    for processor in ("ingest-reports", "alerting"):
        mine = [(r, h) for r, h in letters if r["processor"] == processor]
        assert sorted(h[HEADER_ORIGINAL] for _, h in mine) == sorted(refused), processor
        assert all(r["reason"] and h[HEADER_REASON] for r, h in mine)

    # Every alert of an accepted report reaches every sink.
    topic = {a.alert_id: a for a in lane.topic_alerts()}
    for report in accepted.values():
        (citizen,) = report.citizens
        ms = int(report.event_time.timestamp() * 1000)
        assert f"low-{citizen.citizen_id}-{ms}" in topic, report.report_id
    wait_for(lambda: set(hook.received) == set(topic), 120)
    assert {row[0] for row in lane.table_rows()} == set(topic), "PostgreSQL has every alert"
    assert all(k.isascii() and k.isprintable() for k in hook.keys), "headers are one line of ASCII"
    out = (tmp_path / "console.log").read_text(errors="strict")
    assert not NOT_TEXT_RE.search(out.replace("\n", "")), "no control character reached the terminal"
    for a in topic.values():
        assert printable(a.reason) in out, a.alert_id

    # The topics the processors read get what they should never hold; the workers go on.
    repartition = next(
        t for t in AdminClient({"bootstrap.servers": servers}).list_topics(timeout=10).topics
        if t.startswith("repartition") and lane.token in t
    )  # fmt: skip
    noop = orjson.dumps({"zone": "z", "sightings": [], "alerts": []})
    garbage = [(b"\xff\xfe", b"not json"), (b'"z"', b'{"zone": 5}'), (b'"z"', b"[1]"), (b'"z"', noop)]
    # One partition, a valid message last: Quix commits past a message it could not deserialize with the
    # next one of its partition.
    _produce(servers, repartition, garbage, partition=0)
    nul = Alert.model_construct(**{**_alert("nul-alert", "z", "x").__dict__, "reason": "a\x00b"})
    _produce(
        servers,
        lane.alerts,
        [(b"\xff\xfe", encode(_alert("after-bad-key", "z", "ok"))), (b"z", b"{not an alert"),
         (b"z", encode(nul)), (b"z", encode(_alert("after-all", "z", "ok")))],
    )  # fmt: skip
    last = orjson.loads(next(iter(accepted)))
    last |= {"report_id": "after-the-garbage", "zone": "Harbour"}
    last["citizens"] = [{"citizen_id": "c-after", "name": "After", "harmony_score": 1}]
    _produce(servers, lane.reports, [(b"d", orjson.dumps(last))])
    lane.wait_caught_up(240)
    rows = {row[0] for row in lane.table_rows()}
    assert {"after-bad-key", "after-all"} <= rows and "nul-alert" not in rows
    assert any(a.startswith("low-c-after-") for a in rows), "the rules worker went on after the garbage"
    alert_letters = dead_letters_from(lane.settings, lane.alerts)
    reasons = [h[HEADER_REASON].decode() for _, h in alert_letters]
    assert any("not valid JSON" in r for r in reasons)
    assert any("text holds U+0000" in r for r in reasons), reasons
    assert len(dead_letters_from(lane.settings, repartition)) == 3
    assert alert.poll() is None and ingest.poll() is None, "no worker died"
    for log in (tmp_path / "console.log", tmp_path / "ingest.log"):
        text = log.read_text(errors="replace")
        assert "Traceback" not in text and " died " not in text, text[-3000:]

    # The Live alerts page renders the hostile alerts as text: nothing runs, nothing breaks.
    with DashboardServer(lane.env, tmp_path) as server, Browser() as browser:
        page = browser.open(f"{server.url}/alerts?live=false")
        page_done(page, DONE_WHEN["alerts"][1])
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "hostile-alerts.png"), full_page=True)
        assert page.evaluate("() => window.__pwned === undefined"), "markup from the stream ran"
        assert page.locator("[data-testid=stException]").count() == 0
        assert not browser.console_errors, browser.console_errors
    served = server.log_path.read_text()
    assert not NOISE.search(served), f"the dashboard's log holds a warning or a traceback:\n{served[-4000:]}"
    hook.server.shutdown()


def test_postgres_sink_dead_letters_what_postgres_cannot_store_and_goes_on(
    alert_lane: AlertLane, tmp_path: Path
) -> None:
    """psycopg2 refuses NUL: the alert at fault (built past the contract, as an older producer or a
    hand-edited spool could) is dead-lettered with the reason, and the alerts of its batch are stored."""
    settings = settings_seen_by(alert_lane.env)
    dead: list[tuple[bytes, str]] = []
    sink = PostgresAlertSink(settings, tmp_path / "spool.jsonl", 1_000, 0.1, dead_letter=dead.extend)
    good = [_alert(f"pg-{i}", "z", "ok") for i in range(10)]
    nul = Alert.model_construct(**{**dict(good[0]), "alert_id": "pg-nul", "reason": "a\x00b"})
    for i, a in enumerate([*good[:5], nul, *good[5:]]):
        sink.add(a, b"z", 0, None, "alerts", 0, i)  # one batch: all there before the thread starts
    sink.setup()
    wait_for(lambda: sink.parked == 0, 60)
    sink.close()
    assert {row[0] for row in alert_lane.table_rows()} == {a.alert_id for a in good}
    assert [orjson.loads(b)["alert_id"] for b, _ in dead] == ["pg-nul"]
    assert dead[0][1].startswith("postgres cannot take this alert: ValueError: A string literal cannot")
