"""Alerting against the simulator's ground truth, across a crash, and through every sink."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
from confluent_kafka import Producer

from lakehouse.dead_letters import HEADER_ORIGINAL, HEADER_REASON
from lakehouse.query import trino_sql
from lakehouse.schemas import Alert, AlertKind
from stack.services.postgres import Postgres
from testkit.alert_lane import AlertLane, alive, children
from testkit.checker import match
from testkit.commands import HARMONY
from testkit.dead_letters import dead_letters_from
from testkit.faults import stop_and_restart

# One day, two drones per zone, plenty of riots: the density the riot rule is tuned for.
BACKFILL = ("--start", "2026-09-05", "--days", "1", "--drones", "32", "--riots-per-day", "8", "--seed", "11")


def test_riots_found_against_ground_truth_and_sinks_agree(alert_lane: AlertLane) -> None:
    alert_lane.backfill(*BACKFILL)
    alert_lane.wait_exit(alert_lane.alerting("--timeout", "8"))
    truth = alert_lane.truth()
    alerts = alert_lane.topic_alerts()
    riots = [a for a in alerts if a.kind == AlertKind.RIOT]
    assert len(truth) >= 5
    found, stray = match(truth, riots)
    recall = sum(1 for ids in found.values() if ids) / len(found)
    assert recall >= 0.95, found
    assert stray == [], f"riot alerts in calm periods: {stray}"
    assert all(len(ids) == 1 for ids in found.values() if ids), "one alert id per episode"
    lows = [a for a in alerts if a.kind == AlertKind.LOW_HARMONY]
    assert lows and len({a.alert_id for a in lows}) == len(lows)

    # PostgreSQL holds exactly the alerts on the topic, each at its highest severity.
    best: dict[str, Alert] = {}
    for a in alerts:
        if a.alert_id not in best or a.severity.rank > best[a.alert_id].severity.rank:
            best[a.alert_id] = a
    rows = {r[0]: r for r in alert_lane.table_rows()}
    assert set(rows) == set(best)
    assert all(rows[i][2] == best[i].severity.value and rows[i][1] == best[i].kind.value for i in best)

    # The lake keeps every alert message too, landed by the same exactly-once ingest writer.
    out = subprocess.run(
        [HARMONY, "ingest", "--stream", "alerts", "--timeout", "8"],
        env=alert_lane.env,
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    lake = trino_sql.query(
        f"SELECT count(*), count(DISTINCT alert_id) FROM {alert_lane.table}.alerts", alert_lane.settings
    )[0]
    assert lake == [len(alerts), len(best)]


def test_restart_mid_episode_neither_repeats_nor_misses(alert_lane: AlertLane) -> None:
    alert_lane.backfill(*BACKFILL)
    first = alert_lane.alerting(name="first")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and "riot" not in Counter(
        a.kind.value for a in alert_lane.topic_alerts(1.0)
    ):
        time.sleep(0.5)
    beside = children(first.pid)  # the delivery worker (and multiprocessing's resource tracker)
    assert beside, "the delivery worker runs beside the rules worker"
    first.send_signal(signal.SIGKILL)  # in the middle of the day's episodes
    first.wait(10)
    deadline = time.monotonic() + 15
    while any(alive(pid) for pid in beside) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(alive(pid) for pid in beside), "the delivery worker dies with its parent, even on kill -9"
    alert_lane.wait_exit(alert_lane.alerting("--timeout", "8", name="second"))
    riots = [a for a in alert_lane.topic_alerts() if a.kind == AlertKind.RIOT]
    found, stray = match(alert_lane.truth(), riots)
    assert sum(1 for ids in found.values() if ids) / len(found) >= 0.95
    assert stray == []
    assert all(len(ids) <= 1 for ids in found.values()), f"an episode was alerted twice: {found}"


def test_two_rules_workers_split_the_zones(alert_lane: AlertLane) -> None:
    """Scale-out: two workers in one group share the partitions (and so the zones); each episode is
    still one alert id, wherever its zone's state lives."""
    alert_lane.backfill(*BACKFILL)
    workers = [alert_lane.alerting("--role", "rules", "--timeout", "8", name=f"w{i}") for i in range(2)]
    for w in workers:
        alert_lane.wait_exit(w)
    assert all("raised 0 alerts" not in alert_lane.log(f"w{i}") for i in range(2)), "both did work"
    riots = [a for a in alert_lane.topic_alerts() if a.kind == AlertKind.RIOT]
    found, stray = match(alert_lane.truth(), riots)
    assert sum(1 for ids in found.values() if ids) / len(found) >= 0.95 and stray == []
    assert all(len(ids) <= 1 for ids in found.values()), found


def test_bad_reports_are_dead_lettered_and_the_rest_alerted(alert_lane: AlertLane) -> None:
    alert_lane.backfill(
        "--start", "2026-09-05T18:00:00", "--count", "5000", "--drones", "32", "--riots-per-day", "8",
        "--seed", "11",
    )  # fmt: skip
    valid = {
        "schema_version": 1, "report_id": "x1", "drone_id": "drone-0001",
        "event_time": "2026-09-05T19:00:00.000Z", "position": {"lat": 48.85, "lon": 2.3, "altitude_m": 100},
        "zone": "Cathedral",
        "health": {"battery_pct": 50, "motor_temp_c": 40, "signal_dbm": -60, "firmware": "2.4.0"},
        "citizens": [{"citizen_id": "c-bad-neighbour", "name": "N", "harmony_score": 3}], "words": [],
    }  # fmt: skip
    bad = {
        b"{not json": "not valid JSON",
        orjson.dumps({**valid, "report_id": "x2", "zone": 7}): "zone",
        orjson.dumps({**valid, "report_id": "x3", "citizens": [{"citizen_id": "c", "name": "n",
                                                               "harmony_score": -5}]}): "harmony_score",
    }  # fmt: skip
    producer = Producer(alert_lane.settings.kafka.client())
    for value in [*bad, orjson.dumps(valid)]:
        producer.produce(alert_lane.reports, value=value, key=b"drone-0001")
    assert producer.flush(30) == 0
    alert_lane.wait_exit(alert_lane.alerting("--role", "rules", "--timeout", "6"))
    letters = dead_letters_from(alert_lane.settings, alert_lane.reports)
    assert {h[HEADER_ORIGINAL] for _, h in letters} == set(bad), "each bad report once, original bytes kept"
    for record, headers in letters:
        assert bad[headers[HEADER_ORIGINAL]] in headers[HEADER_REASON].decode()
        assert record["processor"] == "alerting"
    assert "dead-lettered 3" in alert_lane.log()
    alerts = alert_lane.topic_alerts()
    assert any(a.citizens == ["c-bad-neighbour"] for a in alerts), "the good report after them is alerted"


def test_a_dead_delivery_worker_stops_the_rules_worker_loudly(alert_lane: AlertLane) -> None:
    """Alerts nobody delivers would go unseen: `harmony alert` exits with the reason instead."""
    proc = alert_lane.alerting()
    deadline = time.monotonic() + 60
    while not children(proc.pid):
        assert time.monotonic() < deadline, "no delivery worker started"
        time.sleep(0.5)
    time.sleep(3)  # both running
    for pid in children(proc.pid):
        os.kill(pid, signal.SIGKILL)  # the delivery worker (and multiprocessing's resource tracker) crash
    assert proc.wait(120) == 1
    assert "the delivery worker exited with code -9" in alert_lane.log()


def test_a_postgres_crash_mid_riot_loses_no_alert_and_stops_nothing(alert_lane: AlertLane) -> None:
    """PostgreSQL killed (immediate shutdown, as `pg_ctl restart -m immediate`) while riots are alerted:
    the delivery worker parks alerts, the rules worker never stops, and once PostgreSQL is back every
    alert on the topic is in `live_alerts` exactly once."""
    proc = alert_lane.alerting()
    sim = alert_lane.simulate("--rate", "2000", "--count", "40000", "--riots-per-day", "2000", "--seed", "3")
    time.sleep(7)
    # PostgreSQL's immediate shutdown (no checkpoint, clients cut); alerts keep coming while it is away.
    stop_and_restart(alert_lane.settings, Postgres, signal.SIGQUIT, down_s=5)
    assert sim.wait(120) == 0
    time.sleep(5)
    assert proc.poll() is None, f"harmony alert stopped during the outage:\n{alert_lane.log()[-3000:]}"
    proc.send_signal(signal.SIGINT)  # graceful: waits until the delivery group has delivered everything
    assert proc.wait(120) == 0, alert_lane.log()[-3000:]
    log = alert_lane.log()
    assert "postgres unreachable" in log and "postgres reachable again" in log
    assert "Traceback" not in log
    alerts = alert_lane.topic_alerts()
    riots = {a.alert_id for a in alerts if a.kind == AlertKind.RIOT}
    assert riots, "riots were alerted"
    rows = alert_lane.table_rows()
    assert len(rows) == len({r[0] for r in rows}), "one row per alert"
    assert {r[0] for r in rows} == {a.alert_id for a in alerts}, "every alert on the topic is in live_alerts"


def test_rules_and_delivery_run_apart(alert_lane: AlertLane) -> None:
    """Two consumer groups: alerts reach the topic without any sink running, and a delivery worker
    started later hands every one of them to PostgreSQL."""
    alert_lane.backfill(
        "--start", "2026-09-05T18:00:00", "--count", "20000", "--drones", "32", "--riots-per-day", "8",
        "--seed", "11",
    )  # fmt: skip
    alert_lane.wait_exit(alert_lane.alerting("--role", "rules", "--timeout", "6"))
    alerts = alert_lane.topic_alerts()
    assert alerts and alert_lane.table_rows() == []
    alert_lane.wait_exit(alert_lane.alerting("--role", "delivery", "--timeout", "6", name="delivery"))
    assert {r[0] for r in alert_lane.table_rows()} == {a.alert_id for a in alerts}


class Webhook:
    """A real local HTTP server that can be down (503) or up (200) and counts what it accepted."""

    def __init__(self) -> None:
        self.up = False
        self.accepted: Counter[str] = Counter()
        self.refused = 0
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                if hook.up:
                    alert = orjson.loads(body)
                    hook.accepted[f"{alert['alert_id']}:{alert['severity']}"] += 1
                    assert self.headers["idempotency-key"] == f"{alert['alert_id']}:{alert['severity']}"
                    self.send_response(200)
                else:
                    hook.refused += 1
                    self.send_response(503)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/alerts"


def test_webhook_down_then_up_gets_every_alert_once(alert_lane: AlertLane) -> None:
    hook = Webhook()
    try:
        alert_lane.backfill(
            "--start",
            "2026-09-05T18:00:00",
            "--count",
            "20000",
            "--drones",
            "32",
            "--riots-per-day",
            "8",
            "--seed",
            "11",
        )
        worker = alert_lane.alerting("--webhook", hook.url)
        # The stream goes on while the webhook is down: alerts reach the topic regardless.
        deadline = time.monotonic() + 120
        alerts: list[Alert] = []
        while time.monotonic() < deadline:
            alerts = alert_lane.topic_alerts(2.0)
            if (
                alerts
                and hook.refused > 0
                and len(alert_lane.table_rows()) == len({a.alert_id for a in alerts})
            ):
                break
        assert alerts and hook.refused > 0 and not hook.accepted
        hook.up = True
        expected = {f"{a.alert_id}:{a.severity.value}" for a in alerts}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and set(hook.accepted) != expected:
            time.sleep(0.5)
        worker.terminate()
        worker.wait(30)
        assert set(hook.accepted) == expected, "every alert arrives once the webhook is back"
        assert max(hook.accepted.values()) == 1, "none arrives twice"
    finally:
        hook.server.shutdown()
