"""Alerting figures against the real local stack.

    .venv/bin/python -m benchmarks.alerting latency [--rate 10000 --seconds 60 --riots-per-day 2]
                                                   [--rules-workers 1 2]
    .venv/bin/python -m benchmarks.alerting capacity [--reports 600000 --riots-per-day 2]

latency: the simulator produces live at a steady rate; a reader on the alerts topic records, for each
alert, its arrival time minus its Kafka timestamp, which Quix carries over from the report that raised
it (the report's produce time). The figures are those of the reports produced after the first
``--warmup`` seconds (10): the stream's start is measured apart (``*_warmup_p99_ms``), since a fleet's
first reports find every citizen new and the workers cold (in a flood a third of a minute's alerts are
raised in its first second). The PostgreSQL latency is the row's stored_at minus the timestamp of
the message that carried the row's severity (a riot alert is re-sent, and re-stored, when it grows).
``--rules-workers 1 2`` measures one `harmony alert` and then two rules processes in one group beside a
delivery process (a lane each, same run); the largest count names the figures, the others are prefixed
``<n>_worker_``.
capacity: one alerting process reads a backlog from the start; the rate at which it drains it is the
highest steady rate it can hold without growing lag. A report counts as done when the zone stage has
processed its sighting (the group has committed the whole repartition topic), not when the first stage
has read it; the first stage's own rate is kept beside it, and so is the rate of the same Quix topology
doing none of the rules' work (``benchmarks.quix_floor``), on the same backlog.
Any --riots-per-day other than the simulator's default (2) is a riot flood and has its own results
file (``alerting_latency_riots_<n>.json``, ``alerting_capacity_riots_<n>.json``).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import numpy as np
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from psycopg2 import sql

from benchmarks import results_file
from benchmarks.quix_floor import rules_floor
from lakehouse.codec import decode
from lakehouse.query import live_alerts
from lakehouse.schemas import Alert
from lakehouse.settings import Settings, get_settings
from testkit.commands import HARMONY, simulate


class Lane:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.token = uuid.uuid4().hex[:6]
        self.reports, self.alerts = f"bench-reports-{self.token}", f"bench-alerts-{self.token}"
        self.table = f"bench_alerts_{self.token}"
        self.group = f"bench-alerting-{self.token}"
        self.admin = AdminClient(settings.kafka.client())
        for t in (self.reports, self.alerts):
            self.admin.create_topics([NewTopic(t, 4, 1)])[t].result(15)
        self.env = {
            **os.environ,
            "HARMONY_KAFKA__REPORTS_TOPIC": self.reports,
            "HARMONY_KAFKA__ALERTS_TOPIC": self.alerts,
            "HARMONY_ALERTING__CONSUMER_GROUP": self.group,
            "HARMONY_POSTGRES__ALERTS_TABLE": self.table,
        }

    def repartition_partitions(self, consumer: Consumer) -> list[TopicPartition]:
        """The partitions of the rules' zone repartition topic (Quix names it after the group and step)."""
        topics = consumer.list_topics(timeout=10).topics
        names = [t for t in topics if t.startswith("repartition") and self.token in t]
        assert len(names) == 1, names
        return [TopicPartition(names[0], p) for p in topics[names[0]].partitions]

    def close(self) -> None:
        names = [t for t in self.admin.list_topics(timeout=10).topics if self.token in t]
        for fut in self.admin.delete_topics(names).values():
            fut.result(15)
        conn = live_alerts.connect(self.settings)
        with conn.cursor() as cur:
            cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(self.table)))
        conn.commit()
        conn.close()


def _workers(lane: Lane, rules_workers: int) -> list[subprocess.Popen[bytes]]:
    """One `harmony alert` (rules and delivery), or ``rules_workers`` rules processes in the rules group
    beside one delivery process; returns once the rules group is stable with all its members."""
    if rules_workers == 1:
        commands = [[HARMONY, "alert", "--quiet"]]
    else:
        commands = [[HARMONY, "alert", "--quiet", "--role", "rules"]] * rules_workers
        commands.append([HARMONY, "alert", "--quiet", "--role", "delivery"])
    procs = []
    for i, command in enumerate(commands):
        log = Path(f"/tmp/bench-alerting-{i}.log").open("wb")  # noqa: SIM115
        procs.append(subprocess.Popen(command, env=lane.env, stdout=log, stderr=subprocess.STDOUT))
    admin = AdminClient(lane.settings.kafka.client())
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(1)
        if any(p.poll() is not None for p in procs):
            raise RuntimeError("an alerting worker died: see /tmp/bench-alerting-*.log")
        group = admin.describe_consumer_groups([lane.group])[lane.group].result(10)
        if str(group.state).endswith("STABLE") and len(group.members) == rules_workers:
            time.sleep(5)  # repartition topics created, state stores open
            return procs
    raise RuntimeError("the rules group did not settle in 120 s")


def _latencies(args: argparse.Namespace, rules_workers: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Alert latencies on the alerts topic, and from produce to PostgreSQL, for one live run (ms), of the
    reports produced after the warm-up; and the topic's latencies of the warm-up's reports."""
    settings = get_settings()
    lane = Lane(settings)
    first_seen: dict[tuple[str, str], float] = {}  # (alert id, severity) -> source time, s
    lat_ms: list[float] = []
    warm_ms: list[float] = []
    steady_from = [float("inf")]  # when the warm-up ends (set when the simulator starts), s
    trace: list[tuple[float, float]] = []
    stop = threading.Event()

    def read() -> None:
        consumer = Consumer(
            {
                **settings.kafka.client(),
                "group.id": lane.token,
                "fetch.wait.max.ms": 1,
                "auto.offset.reset": "earliest",
            }
        )
        consumer.subscribe([lane.alerts])
        while not stop.is_set():
            msg = consumer.poll(0.05)
            if msg is None or msg.error():
                continue
            now = time.time()
            source_ms = msg.timestamp()[1]
            (lat_ms if source_ms >= steady_from[0] * 1000 else warm_ms).append(now * 1000 - source_ms)
            trace.append((now, now * 1000 - source_ms))
            alert = decode(Alert, msg.value())
            first_seen.setdefault((alert.alert_id, alert.severity.value), source_ms / 1000)
        consumer.close()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    workers: list[subprocess.Popen[bytes]] = []
    try:
        workers = _workers(lane, rules_workers)
        steady_from[0] = time.time() + args.warmup
        sim = subprocess.run(
            simulate(
                "--rate",
                str(args.rate),
                "--duration",
                str(args.seconds),
                "--riots-per-day",
                str(args.riots_per_day),
            ),
            env=lane.env,
            capture_output=True,
            check=False,
        )
        if sim.returncode != 0:
            raise RuntimeError(sim.stderr.decode()[-2000:])
        time.sleep(5)
        stop.set()
        reader.join(10)
        conn = live_alerts.connect(settings)
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL("SELECT alert_id, severity, extract(epoch FROM stored_at) FROM {}").format(
                    sql.Identifier(lane.table)
                )
            )
            stored = {(i, sev): float(at) for i, sev, at in cur.fetchall()}
        conn.close()
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            w.wait(60)
        lane.close()
    if args.trace:
        trace_file = f"{args.trace}.{rules_workers}"
        Path(trace_file).write_text("".join(f"{t:.3f} {ms:.1f}\n" for t, ms in trace))
        Path(f"{trace_file}.pg").write_text(
            "".join(f"{first_seen[k]:.3f} {stored[k]:.3f} {k[0]}\n" for k in first_seen if k in stored)
        )
    pg = np.array(
        [
            (stored[k] - first_seen[k]) * 1000
            for k in first_seen
            if k in stored and first_seen[k] >= steady_from[0]
        ]
    )
    return np.array(lat_ms), pg, np.array(warm_ms)


def latency(args: argparse.Namespace) -> None:
    """The run with the most rules workers names the figures; each other count is kept beside it,
    measured in the same run (one lane each, one after the other)."""
    counts = sorted(set(args.rules_workers))
    runs = {n: _latencies(args, n) for n in counts}
    name = "alert_latency" if args.riots_per_day == 2.0 else "alert_latency_flood"
    figures: dict[str, float] = {}
    for n in counts:
        arr, pg, warm = runs[n]
        prefix = "" if n == counts[-1] else f"{n}_worker_"
        if len(warm):
            figures[f"{prefix}{name}_warmup_p99_ms"] = float(np.percentile(warm, 99))
            figures[f"{prefix}warmup_alerts"] = float(len(warm))
        figures |= {
            f"{prefix}{name}_p50_ms": float(np.percentile(arr, 50)),
            f"{prefix}{name}_p95_ms": float(np.percentile(arr, 95)),
            f"{prefix}{name}_p99_ms": float(np.percentile(arr, 99)),
            f"{prefix}postgres_latency_p50_ms": float(np.percentile(pg, 50)),
            f"{prefix}postgres_latency_p99_ms": float(np.percentile(pg, 99)),
            f"{prefix}alerts": float(len(arr)),
        }
    settings = get_settings()
    results_file.write(
        # A riot flood is its own result, next to the ordinary day's.
        "alerting_latency" if args.riots_per_day == 2.0 else f"alerting_latency_riots_{args.riots_per_day:g}",
        {
            "rate": args.rate,
            "seconds": args.seconds,
            "partitions": 4,
            "rules_workers": counts[-1],
            "also_measured_rules_workers": counts[:-1],
            "commit_interval_s": settings.alerting.commit_interval_s,
            "riots_per_day": args.riots_per_day,
            "warmup_s": args.warmup,
        },
        figures,
    )


def capacity(args: argparse.Namespace) -> None:
    settings = get_settings()
    flood = args.riots_per_day != 2.0
    lane = Lane(settings)
    try:
        if args.riots_per_day == 2.0:
            source = ["--start", "2026-09-01", "--count", str(args.reports)]
        else:  # a riot flood as the latency benchmark sees it: live reports at 10,000/s
            source = [
                "--rate",
                "10000",
                "--count",
                str(args.reports),
                "--riots-per-day",
                f"{args.riots_per_day:g}",
            ]
        out = subprocess.run(
            simulate(*source),
            env=lane.env,
            capture_output=True,
            check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(out.stderr.decode()[-2000:])
        log = Path("/tmp/bench-alerting-capacity.log").open("wb")  # noqa: SIM115
        worker = subprocess.Popen(
            [HARMONY, "alert", "--quiet"], env=lane.env, stdout=log, stderr=subprocess.STDOUT
        )
        consumer = Consumer(settings.kafka.client({"group.id": lane.group}))
        parts = [TopicPartition(lane.reports, p) for p in range(4)]
        first = None
        try:
            while True:
                time.sleep(0.5)
                done = sum(max(tp.offset, 0) for tp in consumer.committed(parts, timeout=10))
                if done > 0 and first is None:
                    first = (time.monotonic(), done)
                if done >= args.reports:
                    break
                if worker.poll() is not None:
                    raise RuntimeError("alerting died: see /tmp/bench-alerting-capacity.log")
            assert first is not None
            source_s = time.monotonic() - first[0]
            # A report is done when the zone stage has processed its sighting, not when the first stage
            # has read it: wait for the group to commit the whole repartition topic.
            zone_parts = lane.repartition_partitions(consumer)
            while True:
                ends = [consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in zone_parts]
                committed = [max(tp.offset, 0) for tp in consumer.committed(zone_parts, timeout=10)]
                if committed == ends:
                    break
                if worker.poll() is not None:
                    raise RuntimeError("alerting died: see /tmp/bench-alerting-capacity.log")
                time.sleep(0.2)
            elapsed = time.monotonic() - first[0]
            rate = (args.reports - first[1]) / elapsed
            source_rate = (args.reports - first[1]) / source_s
            zone_messages = sum(ends)
        finally:
            consumer.close()
            worker.send_signal(signal.SIGTERM)
            worker.wait(60)
        floor = rules_floor(settings, lane.reports, zone_messages / args.reports)
    finally:
        lane.close()
    results_file.write(
        "alerting_capacity"
        if args.riots_per_day == 2.0
        else f"alerting_capacity_riots_{args.riots_per_day:g}",
        {
            "reports": args.reports,
            "partitions": 4,
            "riots_per_day": args.riots_per_day,
            "zone_messages": zone_messages,  # what crossed the repartition: one per zone and run
            "counted_at": "zone stage (repartition topic committed)",
        },
        {
            "alert_max_flood_reports_per_s" if flood else "alert_max_reports_per_s": rate,
            "source_stage_reports_per_s": source_rate,
            "quix_topology_floor_reports_per_s": floor,
        },
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    lat = sub.add_parser("latency")
    lat.add_argument("--rate", type=float, default=10_000)
    lat.add_argument("--seconds", type=float, default=60)
    lat.add_argument("--riots-per-day", type=float, default=2.0)
    lat.add_argument("--warmup", type=float, default=10.0, help="seconds of the stream measured apart")
    lat.add_argument("--trace", help="also write each alert's arrival time and latency to this file")
    lat.add_argument(
        "--rules-workers",
        type=int,
        nargs="+",
        default=[1],
        help="rules processes in the group (several: each measured, one after the other, in this run)",
    )
    cap = sub.add_parser("capacity")
    cap.add_argument("--reports", type=int, default=600_000)
    cap.add_argument("--riots-per-day", type=float, default=2.0)
    args = ap.parse_args()
    {"latency": latency, "capacity": capacity}[args.cmd](args)


if __name__ == "__main__":
    main()
