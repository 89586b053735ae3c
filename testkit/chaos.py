"""A supervised fleet of processors on one lane, and the faults injected into it.

Used by the CI's random-kill test (a few minutes, kills only) and by the soak (``benchmarks/faults.py``:
every fault kind, random schedule). The fleet is the production layout in miniature: two ingest workers
for the reports (one routed through Toxiproxy, so a partition cuts one worker off), one for the alerts,
two riot-rules workers (one proxied) and one delivery worker. The supervisor restarts an exited worker
after a second, as a container's restart policy would, and records any exit it did not cause.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka.admin import AdminClient, NewTopic

from ingest.writer import committed_offsets
from lakehouse.catalog import load_catalog
from lakehouse.schemas import Alert, AlertKind
from lakehouse.settings import AlertingSettings, Settings
from stack.services.base import Service
from stack.services.kafka import Kafka
from stack.services.minio import MinIO
from stack.services.postgres import Postgres
from testkit.alert_lane import AlertLane, group_behind, read_alerts, topic_ends
from testkit.checker import match
from testkit.commands import HARMONY
from testkit.faults import stop
from testkit.network import Toxics, proxied_env

# The commit protocol's steps (ingest/writer.py, ingest/sink.py), in order.
COMMIT_STEPS = (
    "ingest.before_data_files",
    "ingest.after_data_files",
    "ingest.after_metadata_file",
    "ingest.after_catalog_swap",
    "ingest.before_kafka_commit",
)


@dataclass
class Worker:
    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    role: str  # "ingest" or "alerting"
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    doomed: bool = False  # started with a failpoint armed: its SIGKILL is expected
    expect_exit: bool = False  # we killed it
    next_env: dict[str, str] = field(default_factory=dict)  # for its next start only

    def start(self) -> None:
        env, self.next_env = {**self.env, **self.next_env}, {}
        self.doomed = "HARMONY_FAILPOINTS" in env
        with self.log.open("ab") as log:
            log.write(f"\n===== start {self.starts + 1} =====\n".encode())
            log.flush()
            self.proc = subprocess.Popen(self.argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.starts += 1
        self.expect_exit = False


@dataclass
class Exit:
    worker: str
    code: int
    log_tail: str


class Fleet:
    """The processors of one lane, supervised."""

    def __init__(self, lane: AlertLane, s3_port: int | None = None, restart_delay_s: float = 1.0) -> None:
        self.lane = lane
        self.restart_delay_s = restart_delay_s
        base = dict(lane.env)
        if s3_port is not None:
            base["HARMONY_S3__PORT"] = str(s3_port)
        proxied = {**base, **proxied_env(lane.settings)}
        ingest = [HARMONY, "ingest", "--commit-interval", "1"]
        alert = [HARMONY, "alert", "--quiet"]
        plan = [
            ("ingest-1", [*ingest], proxied, "ingest"),
            ("ingest-2", [*ingest], base, "ingest"),
            ("ingest-alerts", [*ingest, "--stream", "alerts"], base, "ingest"),
            ("rules-1", [*alert, "--role", "rules"], proxied, "alerting"),
            ("rules-2", [*alert, "--role", "rules"], base, "alerting"),
            ("delivery", [*alert, "--role", "delivery"], base, "alerting"),
        ]
        self.workers = {
            name: Worker(name, argv, {**env, "HARMONY_INGEST__SESSION_TIMEOUT_MS": "6000"}, lane.tmp / f"{name}.log", role)
            for name, argv, env, role in plan
        }  # fmt: skip
        self.unexpected: list[Exit] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._supervise, daemon=True)

    # ---- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        for w in self.workers.values():
            w.start()
        self._thread.start()

    def _supervise(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                for w in self.workers.values():
                    code = w.proc.poll() if w.proc is not None else None
                    if code is None:
                        continue
                    if not (w.expect_exit or (w.doomed and code == -signal.SIGKILL)):
                        self.unexpected.append(Exit(w.name, code, w.log.read_text(errors="replace")[-3000:]))
                    time.sleep(self.restart_delay_s)
                    w.start()
            time.sleep(0.3)

    def stop(self, timeout_s: float = 120) -> dict[str, int]:
        """Stop supervising, then every worker cleanly (SIGTERM, as an orchestrator does); their exit codes."""
        self._stop.set()
        self._thread.join()
        codes = {}
        for w in self.workers.values():
            assert w.proc is not None
            if w.proc.poll() is None:
                w.proc.send_signal(signal.SIGTERM)
        for w in self.workers.values():
            assert w.proc is not None
            try:
                codes[w.name] = w.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                w.proc.kill()
                codes[w.name] = w.proc.wait(10)
        return codes

    def logs(self) -> dict[str, str]:
        return {name: w.log.read_text(errors="replace") for name, w in self.workers.items()}

    # ---- worker faults -----------------------------------------------------------------------------
    def kill(self, rng: random.Random, role: str) -> str:
        """kill -9 of a random worker of ``role``; the supervisor brings it back."""
        with self._lock:
            w = self.workers[rng.choice(sorted(n for n, w in self.workers.items() if w.role == role))]
            assert w.proc is not None
            w.expect_exit = True
            w.proc.send_signal(signal.SIGKILL)
            w.proc.wait(30)
        return w.name

    def kill_at_commit_step(self, rng: random.Random) -> str:
        """kill -9 of a reports ingest worker, which comes back with a failpoint armed: it kills itself at
        a random step of the commit protocol, on that step's first to third pass. Two kills."""
        step = rng.choice(COMMIT_STEPS)
        with self._lock:
            w = self.workers[rng.choice(["ingest-1", "ingest-2"])]
            w.next_env = {"HARMONY_FAILPOINTS": f"{step}@{rng.randint(1, 3)}"}
            assert w.proc is not None
            w.expect_exit = True
            w.proc.send_signal(signal.SIGKILL)
            w.proc.wait(30)
        return f"{w.name} at {step}"

    # ---- catching up -------------------------------------------------------------------------------
    def topic_ends(self) -> dict[str, dict[int, int]]:
        return {t: topic_ends(self.lane.settings, t) for t in (self.lane.reports, self.lane.alerts)}

    def caught_up(self, ends: dict[str, dict[int, int]]) -> bool:
        """The lake and the rules workers have every message up to ``ends``: lag back to zero."""
        s, lane = self.lane.settings, self.lane
        catalog = load_catalog(s)
        lake = [
            (lane.reports, f"{lane.table}.reports"),
            (lane.reports, f"{lane.table}.citizen_observations"),
            (lane.alerts, f"{lane.table}.alerts"),
        ]
        for topic, ident in lake:
            landed = committed_offsets(catalog.load_table(ident), topic)
            if any(landed.get(p, 0) < end for p, end in ends[topic].items()):
                return False
        alerting = AlertingSettings(consumer_group=f"test-alerting-{lane.token}")
        for group, topic in ((alerting.consumer_group, lane.reports), (alerting.delivery_group, lane.alerts)):
            if group_behind(s, group, topic, ends[topic]):
                return False
        return True

    def wait_settled(self, timeout_s: float) -> float | None:
        """Seconds until caught up with the topics' ends as they stand once nothing moves them any more,
        or None after ``timeout_s``. The rules workers add alerts while they catch up on the reports, so
        the alerts topic's end read at the start is not its last: the lake must reach the last one too."""
        started = time.monotonic()
        ends = self.topic_ends()
        while True:
            left = timeout_s - (time.monotonic() - started)
            if left <= 0 or self.wait_caught_up(ends, left) is None:
                return None
            now = self.topic_ends()
            if now == ends:
                return time.monotonic() - started
            ends = now

    def wait_caught_up(self, ends: dict[str, dict[int, int]], timeout_s: float) -> float | None:
        """Seconds until caught up with ``ends``, or None after ``timeout_s``."""
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            with contextlib.suppress(Exception):  # a server may still be coming back
                if self.caught_up(ends):
                    return time.monotonic() - started
            time.sleep(1)
        return None


# ---- server faults ---------------------------------------------------------------------------------
def crash_and_restart(service: Service, sig: signal.Signals, down_s: float) -> None:
    """``sig`` to the server, wait until it is gone, leave it down ``down_s``, start it again (same port
    and data) and wait until it is healthy."""
    stop(service, sig)
    time.sleep(down_s)
    service.start()
    service.wait_healthy(120)


@contextlib.contextmanager
def paused(service: Service) -> Iterator[None]:
    pid = service.running_pid()
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


@contextlib.contextmanager
def disk_full(folder: Path) -> Iterator[None]:
    """A file taking every free byte of ``folder``'s filesystem, deleted on exit."""
    filler = folder / "filler"
    try:
        with filler.open("wb") as out, contextlib.suppress(OSError):  # ENOSPC: full
            chunk = b"\0" * (1 << 20)
            for _ in range(shutil.disk_usage(folder).free // len(chunk) + 1):
                out.write(chunk)
            out.flush()
        yield
    finally:
        filler.unlink(missing_ok=True)


def server_faults(
    stack: Settings, minio: MinIO, toxics: Toxics, disk: Path | None
) -> dict[str, Callable[[random.Random], None]]:
    """Every server and network fault by kind; each returns once the fault is healed. ``stack``: the
    settings of the stack whose broker and PostgreSQL are hit; ``minio``: the lane's object store."""
    kafka, postgres = Kafka(stack), Postgres(stack)
    faults: dict[str, Callable[[random.Random], None]] = {
        "broker_sigterm": lambda rng: crash_and_restart(kafka, signal.SIGTERM, rng.uniform(2, 6)),
        "broker_kill": lambda rng: crash_and_restart(kafka, signal.SIGKILL, rng.uniform(2, 6)),
        "minio_kill": lambda rng: crash_and_restart(minio, signal.SIGKILL, rng.uniform(2, 6)),
        # SIGQUIT to the postmaster is `pg_ctl stop -m immediate`: every connection cut, no checkpoint.
        "postgres_immediate": lambda rng: crash_and_restart(postgres, signal.SIGQUIT, rng.uniform(1, 4)),
    }

    def minio_pause(rng: random.Random) -> None:
        with paused(minio):
            time.sleep(15)

    def partition(server: str) -> Callable[[random.Random], None]:
        def cut(rng: random.Random) -> None:
            with toxics.partition(server):
                time.sleep(15)

        return cut

    def latency(rng: random.Random) -> None:
        with toxics.latency(300):
            time.sleep(20)

    faults["minio_pause"] = minio_pause
    for server in ("kafka", "minio", "postgres"):
        faults[f"partition_{server}"] = partition(server)
    faults["latency_300ms"] = latency
    if disk is not None:

        def full(rng: random.Random) -> None:
            with disk_full(disk):
                time.sleep(12)

        faults["disk_full"] = full
    return faults


# ---- the end of a run --------------------------------------------------------------------------------
@dataclass
class AlertsTally:
    """Invariant 6 in numbers: riot episodes against a fault-free replay of the same topic."""

    episodes: int  # in the ground truth
    alerted_clean: int  # episodes the fault-free replay alerted (the rule's own recall, not a fault's)
    lost: list[str]  # alerted by the replay, not by the faulted run
    duplicated: dict[str, set[str]]  # episodes under more than one alert id in the faulted run
    alerts: int  # alert messages on the topic
    sink_errors: list[str]  # live_alerts or the lake's alerts table differing from the topic


def clean_replay(lane: AlertLane, timeout_s: float = 900) -> list[Alert]:
    """The riot alerts a fresh rules worker raises from the whole reports topic, with no fault."""
    topic = f"test-alerts-clean-{lane.token}"
    admin = AdminClient(lane.settings.kafka.client())
    admin.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1)])[topic].result(15)
    env = {
        **lane.env,
        "HARMONY_KAFKA__ALERTS_TOPIC": topic,
        "HARMONY_ALERTING__CONSUMER_GROUP": f"test-clean-{lane.token}",
    }
    out = subprocess.run(
        [HARMONY, "alert", "--quiet", "--role", "rules", "--timeout", "10"],
        env=env,
        capture_output=True,
        timeout=timeout_s,
        check=False,
    )
    assert out.returncode == 0, out.stdout.decode()[-2000:] + out.stderr.decode()[-2000:]
    return [a for a in read_alerts(lane.settings, topic) if a.kind == AlertKind.RIOT]


def tally_alerts(lane: AlertLane) -> AlertsTally:
    alerts = lane.topic_alerts()
    truth = lane.truth()
    found, _ = match(truth, [a for a in alerts if a.kind == AlertKind.RIOT])
    clean, _ = match(truth, clean_replay(lane))
    errors = []
    ids = Counter(a.alert_id for a in alerts)
    rows = [r[0] for r in lane.table_rows()]
    if Counter(rows) != Counter(set(ids)):
        errors.append(f"live_alerts: {len(rows)} rows, {len(set(rows))} ids; the topic: {len(ids)} ids")
    lake = load_catalog(lane.settings).load_table(f"{lane.table}.alerts")
    landed = Counter(lake.scan(selected_fields=("alert_id",)).to_arrow().column("alert_id").to_pylist())
    if landed != ids:
        errors.append(
            f"lake alerts table: {sum(landed.values())} rows; the topic: {sum(ids.values())} messages"
        )
    return AlertsTally(
        episodes=len(truth),
        alerted_clean=sum(1 for v in clean.values() if v),
        lost=[e for e, v in clean.items() if v and not found[e]],
        duplicated={e: v for e, v in found.items() if len(v) > 1},
        alerts=len(alerts),
        sink_errors=errors,
    )
