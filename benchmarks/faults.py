"""The reliability soak: a random schedule of every fault kind against the whole fleet, then the checker.

    .venv/bin/python -m benchmarks.faults --minutes 60 [--rate 1000 --seed 1]

On a lane of its own (topics, groups, namespace, live alerts table) with its own MinIO on a tmpfs (so the
disk can be filled without touching the machine's): the simulator produces at ``--rate`` with riots; the
fleet of ``testkit/chaos.py`` (two reports ingest workers, an alerts ingest worker, two rules
workers, a delivery worker; one of each pair routed through Toxiproxy) runs under a supervisor that
restarts what dies. Faults come from a shuffled deck holding every server and network fault once and
the worker kills several times; after each, the time from healed to lag zero is measured before the next.
At the end: reports lost and duplicated against the source topic read back, riot episodes against a
fault-free replay of the same topic, the whole checker, and orphan files attributed to the fault whose
window they were written in. Writes ``benchmarks/results/faults.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import signal
import subprocess
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
from confluent_kafka.admin import AdminClient, NewTopic
from psycopg2 import sql
from pyarrow import fs as pafs

from benchmarks import results_file
from lakehouse.catalog import load_catalog
from lakehouse.query import live_alerts
from lakehouse.settings import Settings, get_settings
from lakehouse.storage import s3_filesystem
from lakehouse.tables import purge_namespace
from stack.services.minio import MinIO
from stack.services.toxiproxy import Toxiproxy
from testkit.alert_lane import AlertLane
from testkit.chaos import Fleet, server_faults, tally_alerts
from testkit.checker import check_lake, read_source
from testkit.network import Toxics

SOAK_S3_PORT, SOAK_CONSOLE_PORT = 9012, 9013
WORKER_KILLS = {"ingest_kill": 8, "alerting_kill": 7, "commit_step_kill": 4}  # a deck: 32 faults, 23 kills


@dataclass
class Injected:
    kind: str
    detail: str
    injected: float  # wall clock
    healed: float
    recovered: float | None
    kills: int
    ends_before: dict[int, int]  # the reports topic's ends when injected
    ends_after: dict[int, int]  # and when recovered


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--rate", type=int, default=1000, help="reports per second produced throughout")
    ap.add_argument("--riots-per-day", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tmpfs-mb", type=int, default=6144, help="the soak MinIO's disk")
    ap.add_argument("--keep", action="store_true", help="keep the lane (topics, tables, MinIO) to inspect")
    args = ap.parse_args()
    base = get_settings()
    with tempfile.TemporaryDirectory(prefix="harmony-soak-") as tmp:
        settings, minio, disk = _soak_minio(base, Path(tmp), args.tmpfs_mb)
        lane = AlertLane(settings, uuid.uuid4().hex[:8], Path(tmp))
        toxics = Toxics(settings)
        _route_proxy(settings, "minio", f"{settings.s3.host}:{SOAK_S3_PORT}")
        try:
            _create_topics(lane)
            run(args, lane, base, minio, disk, toxics)
        finally:
            toxics.reset()
            Toxiproxy(base).provision()  # the minio proxy back to the stack's MinIO
            if args.keep:
                input(f"lane {lane.token} kept (MinIO on port {SOAK_S3_PORT}); press Enter to remove it")
            _cleanup(lane)
            minio.stop()
            subprocess.run(["umount", "--lazy", str(disk)], check=False)


def run(
    args: argparse.Namespace, lane: AlertLane, stack: Settings, minio: MinIO, disk: Path, toxics: Toxics
) -> None:
    rng = random.Random(args.seed)
    faults = server_faults(stack, minio, toxics, disk)
    fleet = Fleet(lane, s3_port=SOAK_S3_PORT)
    total = int(args.rate * args.minutes * 60)
    print(f"soak: {args.minutes} min, {total:,} reports at {args.rate}/s, lane {lane.token}", flush=True)
    fleet.start()
    sim = lane.simulate(
        "--rate", str(args.rate), "--count", str(total), "--riots-per-day", str(args.riots_per_day),
        "--seed", str(args.seed),
    )  # fmt: skip
    deadline = time.monotonic() + args.minutes * 60
    log: list[Injected] = []
    deck: list[str] = []
    time.sleep(15)  # the fleet up and landing before the first fault
    try:
        while time.monotonic() < deadline and sim.poll() is None:
            if not deck:
                deck = list(faults) + [k for k, n in WORKER_KILLS.items() for _ in range(n)]
                rng.shuffle(deck)
            kind = deck.pop()
            before = fleet.topic_ends()
            injected = time.time()
            kills = 0
            if kind == "ingest_kill":
                detail, kills = fleet.kill(rng, "ingest"), 1
            elif kind == "alerting_kill":
                detail, kills = fleet.kill(rng, "alerting"), 1
            elif kind == "commit_step_kill":
                detail, kills = fleet.kill_at_commit_step(rng), 2
            else:
                detail = ""
                faults[kind](rng)
            healed = time.time()
            ends = fleet.topic_ends()
            took = fleet.wait_caught_up(ends, 600)
            recovered = healed + took if took is not None else None
            after = fleet.topic_ends()[lane.reports]
            fault = Injected(kind, detail, injected, healed, recovered, kills, before[lane.reports], after)
            log.append(fault)
            shown = f"{took:.1f}s" if took is not None else "NOT within 600 s"
            print(f"{len(log):4d} {kind:20s} {detail:40s} recovered in {shown}", flush=True)
            time.sleep(rng.uniform(1, 4))
        if sim.poll() is None:
            sim.send_signal(signal.SIGINT)
        sim.wait(120)
        final = fleet.wait_settled(900)
        print(f"end of the schedule; caught up in {final}s", flush=True)
    finally:
        codes = fleet.stop()
    report(args, lane, fleet, codes, log)


def report(
    args: argparse.Namespace, lane: AlertLane, fleet: Fleet, codes: dict[str, int], log: list[Injected]
) -> None:
    settings = lane.settings
    source = read_source(settings, lane.reports, timeout_s=900)
    catalog = load_catalog(settings)
    reports = catalog.load_table(f"{lane.table}.reports")
    landed = Counter(reports.scan(selected_fields=("report_id",)).to_arrow().column("report_id").to_pylist())
    offsets_of: dict[str, tuple[int, int]] = {}
    expected: set[str] = set()
    for p, end in source.ends.items():
        for m in source.valid(p, 0, end):
            if m.report_id is not None:
                expected.add(m.report_id)
                offsets_of[m.report_id] = (p, m.offset)
    lost = expected - set(landed)
    duplicated = sum(n - 1 for n in landed.values() if n > 1)
    try:
        check_lake(settings, lane.reports, lane.table, f"test-ingest-{lane.token}")
        checker = "passed"
    except AssertionError as exc:
        checker = f"FAILED: {exc}"[:2000]
    alerts = tally_alerts(lane)
    tracebacks = [n for n, text in fleet.logs().items() if "Traceback (most recent call last)" in text]
    observations = catalog.load_table(f"{lane.table}.citizen_observations")
    orphans = _orphans_by_fault(settings, [reports, observations], log)

    per_kind: dict[str, dict[str, Any]] = defaultdict(lambda: defaultdict(float))
    in_lake = {offsets_of[r] for r in landed if r in offsets_of}
    for f in log:
        k = per_kind[f.kind]
        k["injected"] += 1
        produced = [
            (p, o) for p in f.ends_after for o in range(f.ends_before.get(p, 0), f.ends_after[p])
        ]  # fmt: skip
        valid = [(p, o) for p, o in produced if (p, o) not in source.dead]
        k["reports_produced"] += len(valid)
        k["reports_in_lake"] += sum(1 for po in valid if po in in_lake)
        if f.recovered is not None:
            k["longest_recovery_s"] = max(k["longest_recovery_s"], f.recovered - f.healed)
        else:
            k["not_recovered"] += 1
    for kind, n in orphans.items():
        per_kind[kind]["orphan_files"] = n
    recoveries = [f.recovered - f.healed for f in log if f.recovered is not None]
    figures = {
        "faults_injected": len(log),
        "fault_kinds": len({f.kind for f in log}),
        "worker_kills": sum(f.kills for f in log),
        "reports_lost": len(lost),
        "reports_duplicated": duplicated,
        "alerts_lost": len(alerts.lost),
        "alerts_duplicated": len(alerts.duplicated),
        "longest_recovery_s": max(recoveries, default=0.0),
        "faults_not_recovered": sum(1 for f in log if f.recovered is None),
        "reports_produced": len(expected),
        "riot_episodes": alerts.episodes,
        "riot_episodes_alerted_fault_free": alerts.alerted_clean,
        "unexpected_exits": len(fleet.unexpected),
        "logs_with_traceback": len(tracebacks),
    }
    params = {
        "minutes": args.minutes,
        "rate": args.rate,
        "riots_per_day": args.riots_per_day,
        "seed": args.seed,
        "fleet": sorted(fleet.workers),
        "partitions": 4,
    }
    details = {
        "per_kind": {k: dict(v) for k, v in sorted(per_kind.items())},
        "checker": checker,
        "alert_sinks": alerts.sink_errors or "live_alerts and the lake's alerts table equal the alerts topic",
        "exit_codes_on_stop": codes,
        "unexpected_exits": [f"{e.worker}: {e.code}" for e in fleet.unexpected],
        "logs_with_traceback": tracebacks,
    }
    results_file.write("faults", params, figures, details)


def _orphans_by_fault(settings: Settings, tables: list[Any], log: list[Injected]) -> dict[str, int]:
    """Data files no snapshot refers to, each counted under the fault whose window (injected → recovered)
    holds its write time; "between faults" otherwise."""
    out: Counter[str] = Counter()
    fs = s3_filesystem(settings)
    for table in tables:
        referenced = set(table.inspect.all_files().column("file_path").to_pylist())
        location = urlparse(table.location())
        selector = pafs.FileSelector(f"{location.netloc}{location.path}/data", recursive=True)
        for info in fs.get_file_info(selector):
            if not info.is_file or f"s3://{info.path}" in referenced:
                continue
            written = info.mtime.timestamp() if info.mtime is not None else 0.0
            hit = [f.kind for f in log if f.injected - 2 <= written <= (f.recovered or f.healed) + 2]
            out[hit[-1] if hit else "between faults"] += 1
    return dict(out)


def _soak_minio(base: Settings, tmp: Path, tmpfs_mb: int) -> tuple[Settings, MinIO, Path]:
    """A MinIO of the stack's build on its own port, its data on a tmpfs of ``tmpfs_mb``."""
    s3 = base.s3.model_copy(update={"port": SOAK_S3_PORT, "console_port": SOAK_CONSOLE_PORT})
    settings = base.model_copy(update={"s3": s3, "state_dir": tmp / "state"})
    minio = MinIO(settings)
    disk = minio.home / "data"
    disk.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={tmpfs_mb}m", "tmpfs", str(disk)], check=True)
    minio.install()
    minio.prepare()
    minio.start()
    minio.wait_healthy(60)
    minio.provision()
    return settings, minio, disk


def _route_proxy(settings: Settings, name: str, upstream: str) -> None:
    url = f"{settings.toxiproxy.url}/proxies/{name}"
    httpx.post(url, json={"upstream": upstream}, timeout=10).raise_for_status()


def _create_topics(lane: AlertLane) -> None:
    admin = AdminClient(lane.settings.kafka.client())
    for topic in (lane.reports, lane.alerts):
        admin.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1)])[topic].result(15)


def _cleanup(lane: AlertLane) -> None:
    with contextlib.suppress(Exception):
        admin = AdminClient(lane.settings.kafka.client())
        names = [t for t in admin.list_topics(timeout=10).topics if lane.token in t]
        for fut in admin.delete_topics(names).values():
            fut.result(15)
    with contextlib.suppress(Exception):
        purge_namespace(load_catalog(lane.settings), lane.table)
    with contextlib.suppress(Exception):
        conn = live_alerts.connect(lane.settings)
        with conn.cursor() as cur:
            cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(lane.table)))
        conn.commit()
        conn.close()


if __name__ == "__main__":
    main()
