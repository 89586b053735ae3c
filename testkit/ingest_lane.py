"""A lane of ingest's own on the real stack: a private reports topic, raw namespace and consumer group,
its workers started and stopped, and what the lake committed."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka.admin import AdminClient, NewTopic

from lakehouse.catalog import load_catalog
from lakehouse.query import trino_sql
from lakehouse.settings import Settings
from lakehouse.tables import purge_namespace
from testkit.commands import HARMONY


@dataclass
class Lane:
    """A private reports topic, raw namespace and consumer group, addressed through HARMONY_ variables."""

    settings: Settings
    topic: str
    namespace: str
    group: str
    tmp: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "HARMONY_KAFKA__REPORTS_TOPIC": self.topic,
            "HARMONY_CATALOG__RAW_NAMESPACE": self.namespace,
            "HARMONY_INGEST__CONSUMER_GROUP": self.group,
            "HARMONY_INGEST__SESSION_TIMEOUT_MS": "6000",
        }

    def worker(self, name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = (self.tmp / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            [HARMONY, "ingest", "--commit-interval", "1", *args],
            env={**self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        return proc

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")

    def simulate(self, *args: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [HARMONY, "simulate", "--ground-truth", str(self.tmp / "truth.jsonl"), *args],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=(self.tmp / "simulate.log").open("ab"),
        )
        self.procs.append(proc)
        return proc

    def counts(self) -> tuple[int, int, int, int]:
        """Reports, distinct report ids, citizen observations, citizens inside reports (through Trino)."""
        r = trino_sql.query(
            f"SELECT count(*), count(DISTINCT report_id), coalesce(sum(cardinality(citizens)), 0) "
            f"FROM {self.namespace}.reports",
            self.settings,
        )[0]
        o = trino_sql.query(f"SELECT count(*) FROM {self.namespace}.citizen_observations", self.settings)[0]
        return r[0], r[1], o[0], r[2]

    def lake_offsets_total(self) -> int:
        from ingest.writer import committed_offsets

        catalog = load_catalog(self.settings)
        return min(
            sum(committed_offsets(catalog.load_table(f"{self.namespace}.{t}"), self.topic).values())
            for t in ("reports", "citizen_observations")
        )

    def landed(self) -> int:
        """The lake's committed offsets, 0 before the tables exist (the first worker creates them)."""
        try:
            return self.lake_offsets_total()
        except Exception:
            return 0

    def wait_landed(self, produced: int, timeout_s: float = 180) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.landed() >= produced:
                return
            time.sleep(1)
        raise AssertionError(f"lake did not reach {produced} committed offsets within {timeout_s}s")


@contextlib.contextmanager
def ingest_lane(stack: Settings, tmp: Path) -> Iterator[Lane]:
    """A lane with its topic created; its workers killed (even a paused one) and everything removed after."""
    token = uuid.uuid4().hex[:8]
    admin = AdminClient(stack.kafka.client())
    topic = f"test-ingest-{token}"
    admin.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1)])[topic].result(15)
    lane = Lane(stack, topic, f"test_{token}", f"test-ingest-{token}", tmp)
    try:
        yield lane
    finally:
        _remove(stack, lane, admin, topic)


def _remove(stack: Settings, lane: Lane, admin: AdminClient, topic: str) -> None:
    for proc in lane.procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
            proc.kill()
            proc.wait(10)
    admin.delete_topics([topic])[topic].result(15)
    catalog = load_catalog(stack)
    for (ns,) in catalog.list_namespaces():
        if ns.startswith(lane.namespace):  # the lane's, and those its tests derived from it
            purge_namespace(catalog, ns)


def assert_exact(lane: Lane, produced: int) -> None:
    reports, distinct, observations, citizens = lane.counts()
    assert reports == produced, f"{reports} reports in the lake, {produced} produced"
    assert distinct == produced, "a report_id landed twice"
    assert observations == citizens, f"{observations} citizen observations for {citizens} citizens in reports"
