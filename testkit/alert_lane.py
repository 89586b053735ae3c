"""A lane of alerting's own on the real stack: a private reports/alerts topic pair, consumer groups and
live table, the simulator and `harmony alert` started in it, and what reached the topic and the table."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from psycopg2 import sql

from lakehouse.catalog import load_catalog
from lakehouse.codec import decode
from lakehouse.query import live_alerts
from lakehouse.schemas import Alert
from lakehouse.settings import AlertingSettings, Settings
from lakehouse.tables import purge_namespace
from simulator.episodes import read_ground_truth
from testkit.commands import HARMONY


@dataclass
class AlertLane:
    settings: Settings
    token: str
    tmp: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def reports(self) -> str:
        return f"test-reports-{self.token}"

    @property
    def alerts(self) -> str:
        return f"test-alerts-{self.token}"

    @property
    def table(self) -> str:
        return f"test_alerts_{self.token}"

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "HARMONY_KAFKA__REPORTS_TOPIC": self.reports,
            "HARMONY_KAFKA__ALERTS_TOPIC": self.alerts,
            "HARMONY_ALERTING__CONSUMER_GROUP": f"test-alerting-{self.token}",
            "HARMONY_ALERTING__WEBHOOK_RETRY_S": "0.5",
            "HARMONY_POSTGRES__ALERTS_TABLE": self.table,
            "HARMONY_CATALOG__RAW_NAMESPACE": self.table,
            "HARMONY_INGEST__CONSUMER_GROUP": f"test-ingest-{self.token}",
        }

    @property
    def truth_path(self) -> Path:
        return self.tmp / "truth.jsonl"

    def backfill(self, *args: str) -> None:
        out = subprocess.run(
            [HARMONY, "simulate", "--ground-truth", str(self.truth_path), *args],
            env=self.env,
            capture_output=True,
            timeout=300,
            check=False,
        )
        assert out.returncode == 0, out.stderr.decode()[-2000:]

    def simulate(self, *args: str) -> subprocess.Popen[bytes]:
        """The simulator producing in the background (live mode), its ground truth kept; stopped with the lane."""
        proc = subprocess.Popen(
            [HARMONY, "simulate", "--ground-truth", str(self.truth_path), *args],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.procs.append(proc)
        return proc

    def alerting(
        self, *args: str, name: str = "alert", env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log = (self.tmp / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            [HARMONY, "alert", "--quiet", *args],
            env={**self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        return proc

    def log(self, name: str = "alert") -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")

    def truth(self) -> list[dict[str, object]]:
        """The riot episodes of the ground truth."""
        return read_ground_truth(self.truth_path, "riot")

    def topic_alerts(self, settle_s: float = 3.0) -> list[Alert]:
        return read_alerts(self.settings, self.alerts, settle_s)

    def table_rows(self) -> list[tuple[str, str, str, datetime]]:
        conn = live_alerts.connect(self.settings)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT to_regclass(%s)", (self.table,))
                if cur.fetchone() == (None,):
                    return []  # no delivery worker has run yet
                cur.execute(
                    sql.SQL("SELECT alert_id, kind, severity, event_time FROM {}").format(
                        sql.Identifier(self.table)
                    )
                )
                return list(cur.fetchall())
        finally:
            conn.close()

    def wait_exit(self, proc: subprocess.Popen[bytes], timeout_s: float = 300) -> None:
        assert proc.wait(timeout_s) == 0, self.log()[-3000:]

    def wait_caught_up(self, timeout_s: float = 180) -> None:
        """Until the rules group has committed the reports topic and its zone repartition topic to their
        ends, and the delivery group the alerts topic: every report seen, every alert delivered. (A fixed
        sleep was not enough after a broker kill on a loaded machine: the broker took ~30 s to return.)"""
        groups = AlertingSettings(consumer_group=self.env["HARMONY_ALERTING__CONSUMER_GROUP"])
        admin = AdminClient(self.settings.kafka.client())
        deadline, behind = time.monotonic() + timeout_s, ["not asked yet"]
        while time.monotonic() < deadline:
            names = admin.list_topics(timeout=10).topics
            rules = [
                t for t in names if t == self.reports or (t.startswith("repartition") and self.token in t)
            ]
            pairs = [(groups.consumer_group, t) for t in rules] + [(groups.delivery_group, self.alerts)]
            behind = [
                f"{group} on {topic}"
                for group, topic in pairs
                if group_behind(self.settings, group, topic, topic_ends(self.settings, topic))
            ]
            if not behind:
                return
            time.sleep(1)
        raise AssertionError(f"alerting did not catch up in {timeout_s:.0f}s: {behind}\n{self.log()[-3000:]}")


def topic_ends(settings: Settings, topic: str, timeout_s: float = 120) -> dict[int, int]:
    """The topic's end offsets; asked again while the broker is still electing leaders after a restart
    (NOT_LEADER_FOR_PARTITION: found by the soak, right after a broker kill)."""
    deadline = time.monotonic() + timeout_s
    consumer = Consumer(settings.kafka.client({"group.id": "test-ends"}))
    try:
        while True:
            try:
                parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
                return {
                    p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts
                }
            except KafkaException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
    finally:
        consumer.close()


def group_behind(settings: Settings, group: str, topic: str, ends: dict[int, int]) -> bool:
    """Whether ``group`` has not yet committed some non-empty partition of ``topic`` up to ``ends``."""
    consumer = Consumer(settings.kafka.client({"group.id": group}))
    try:
        committed = consumer.committed([TopicPartition(topic, p) for p in ends], timeout=10)
    finally:
        consumer.close()
    done = {tp.partition: tp.offset for tp in committed}
    return any(end > 0 and done.get(p, -1) < end for p, end in ends.items())


def read_alerts(settings: Settings, topic: str, settle_s: float = 3.0) -> list[Alert]:
    """Every alert on ``topic`` (read until ``settle_s`` pass with nothing new)."""
    consumer = Consumer({**settings.kafka.client(), "group.id": f"read-{uuid.uuid4().hex}"})
    md = consumer.list_topics(topic, timeout=10)
    consumer.assign([TopicPartition(topic, p, 0) for p in md.topics[topic].partitions])
    out, idle = [], time.monotonic()
    while time.monotonic() - idle < settle_s:
        msg = consumer.poll(0.3)
        if msg is None or msg.error():
            continue
        idle = time.monotonic()
        alert = decode(Alert, msg.value())
        assert msg.key() == alert.zone.encode(), "alerts are keyed by zone"
        out.append(alert)
    consumer.close()
    return out


def children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (from /proc: the delivery worker beside a rules worker)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@contextlib.contextmanager
def alert_lane(stack: Settings, tmp: Path) -> Iterator[AlertLane]:
    """A lane with its topics created; its processes killed and everything it made removed afterwards."""
    lane = AlertLane(stack, uuid.uuid4().hex[:8], tmp)
    admin = AdminClient(stack.kafka.client())
    for topic in (lane.reports, lane.alerts):
        admin.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1)])[topic].result(15)
    try:
        yield lane
    finally:
        _remove(stack, lane, admin)


def _remove(stack: Settings, lane: AlertLane, admin: AdminClient) -> None:
    for proc in lane.procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
    names = [t for t in admin.list_topics(timeout=10).topics if lane.token in t]
    for fut in admin.delete_topics(names).values():
        fut.result(15)
    catalog = load_catalog(stack)
    purge_namespace(catalog, lane.table)
    conn = live_alerts.connect(stack)
    with conn.cursor() as cur:
        cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(lane.table)))
    conn.commit()
    conn.close()
