"""Ingest figures against the real local stack.

    .venv/bin/python -m benchmarks.ingest throughput [--reports 2000000]
    .venv/bin/python -m benchmarks.ingest freshness [--rate 5000 --seconds 120]
    .venv/bin/python -m benchmarks.ingest soak [--minutes 30 --rate 2000]

throughput: one topic, measured five ways in the same run: a plain confluent-kafka consumer that only
drains it; the same consumer feeding ingest's own sink code (``IcebergSink``: the same decode, in the same
background thread, the same projections) with the Iceberg commit replaced by Parquet encoding in memory
(the Python ceiling: no consumer group protocol, no S3, no catalog); ingest's Quix topology with a sink
that drops everything (the Quix floor, ``benchmarks.quix_floor``); one ingest worker; two ingest workers
in one group. Worker rates count the rows landed by the commits after the first and before the last
(``steady_rate``: process start-up excluded, and the last round, which waits for the commit interval
with the topic drained).
freshness: reports produced live; each is "visible" when the catalog first points at a snapshot of the
*last* table of its commit round (citizen observations) holding it; freshness = that moment minus the
Kafka produce timestamp.
soak: a steady live load for a long time at the default commit interval: commit latency must stay flat.
Commit latency is the whole commit a reader waits for (manifests, manifest list, metadata file, catalog
swap); flush latency adds writing the batch's data files.
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import statistics
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from pyiceberg.manifest import DataFile

from benchmarks import results_file
from benchmarks.quix_floor import per_message_sink_floor, sink_floor
from ingest.sink import IcebergSink
from ingest.streams import STREAMS
from ingest.writer import CommitResult, ExactlyOnceWriter, TableBatch, committed_offsets
from lakehouse.catalog import load_catalog
from lakehouse.dead_letters import DeadLetterProducer
from lakehouse.settings import Settings, get_settings
from lakehouse.streaming.runs import MessageRun, runs_of
from lakehouse.tables import TableSpec, purge_namespace
from testkit.commands import HARMONY, simulate


class Lane:
    """A private topic, namespace and group so a run never touches the demo's data."""

    def __init__(self, settings: Settings, partitions: int) -> None:
        self.settings = settings
        self.token = uuid.uuid4().hex[:6]
        self.topic = f"bench-ingest-{self.token}"
        self.namespace = f"bench_{self.token}"
        self.partitions = partitions
        self.admin = AdminClient(settings.kafka.client())
        self.admin.create_topics([NewTopic(self.topic, partitions, 1)])[self.topic].result(15)

    def env(self, group: str, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "HARMONY_KAFKA__REPORTS_TOPIC": self.topic,
            "HARMONY_CATALOG__RAW_NAMESPACE": self.namespace,
            "HARMONY_INGEST__CONSUMER_GROUP": group,
            **extra,
        }

    def produce(self, *args: str) -> None:
        out = subprocess.run(
            simulate(*args),
            env=self.env("unused"),
            capture_output=True,
            check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(out.stderr.decode()[-2000:])

    def close(self) -> None:
        self.admin.delete_topics([self.topic])[self.topic].result(15)
        catalog = load_catalog(self.settings)
        for (ns,) in catalog.list_namespaces():
            if ns.startswith(self.namespace):
                purge_namespace(catalog, ns)


class ParquetInMemory(ExactlyOnceWriter):
    """The writer's place in the ceiling: encode each table's rows as ingest's data files are encoded
    (Parquet, zstd), into memory; no S3, no manifests, no catalog."""

    def write_files(self, spec: TableSpec, rows: pa.Table) -> list[DataFile]:
        pq.write_table(rows, io.BytesIO(), compression="zstd")  # in the background thread, as ingest does
        return []

    def commit(
        self,
        batches: dict[TableSpec, TableBatch],
        next_offsets: dict[int, int],
        owned: Callable[[int], bool] = lambda _p: True,
    ) -> list[CommitResult]:
        for batch in batches.values():
            pq.write_table(batch.rows, io.BytesIO(), compression="zstd")
        return []


def drain(lane: Lane, total: int, decode: bool, batch: int) -> float:
    """Reports/s of a plain consumer reading the whole topic, optionally through ingest's sink code."""
    consumer = Consumer(
        {
            **lane.settings.kafka.client(),
            "group.id": f"drain-{uuid.uuid4().hex[:6]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "queued.max.messages.kbytes": 262_144,
        }
    )
    consumer.subscribe([lane.topic])
    stream = STREAMS["reports"]
    sink = IcebergSink(
        stream,
        lane.topic,
        ParquetInMemory(load_catalog(lane.settings), lane.topic, {}),
        DeadLetterProducer(lane.settings),
    )
    sink.owned = set(range(lane.partitions))
    topics = frozenset({lane.topic})
    seen = 0
    t0 = None
    while seen < total:
        msgs = consumer.consume(10_000, 1.0)
        if not msgs:
            continue
        t0 = t0 or time.perf_counter()
        good = [m for m in msgs if not m.error()]
        seen += len(good)
        if decode:  # the runs the worker's consumer hands its sink (lakehouse.streaming.runs)
            for run in runs_of(good, topics):
                assert isinstance(run, MessageRun)
                sink.add(run, None, 0, None, lane.topic, run.partition, run.offsets[-1])
        if decode and (sink.buffered >= batch or seen >= total):
            sink.flush()
    elapsed = time.perf_counter() - (t0 or time.perf_counter())
    consumer.close()
    return total / elapsed


def snapshot_times(table_ident: str, settings: Settings) -> list[tuple[float, int]]:
    """(commit time in seconds, rows added) for every snapshot still in the table."""
    table = load_catalog(settings).load_table(table_ident)
    return sorted(
        (s.timestamp_ms / 1000, int(s.summary["added-records"] or 0))
        for s in table.metadata.snapshots
        if s.summary is not None
    )


def run_workers(lane: Lane, n: int, total: int, group: str) -> float:
    """Reports/s landed by ``n`` workers: rows between the first and last commit over that time."""
    env = lane.env(group, HARMONY_CATALOG__RAW_NAMESPACE=f"{lane.namespace}_{group.replace('-', '_')}")
    ns = env["HARMONY_CATALOG__RAW_NAMESPACE"]
    logs = [Path(f"/tmp/bench-{group}-{i}.log").open("wb") for i in range(n)]  # noqa: SIM115
    procs = [
        subprocess.Popen([HARMONY, "ingest"], env=env, stdout=logs[i], stderr=subprocess.STDOUT)
        for i in range(n)
    ]
    catalog = load_catalog(lane.settings)
    try:
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            time.sleep(1)
            if any(p.poll() is not None for p in procs):
                raise RuntimeError(f"an ingest worker died: see /tmp/bench-{group}-*.log")
            try:
                landed = sum(
                    committed_offsets(catalog.load_table(f"{ns}.citizen_observations"), lane.topic).values()
                )
            except Exception:
                continue
            if landed >= total:
                break
        else:
            raise RuntimeError("workers did not land everything in time")
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(60)
    return steady_rate(snapshot_times(f"{ns}.reports", lane.settings))


def steady_rate(snaps: list[tuple[float, int]]) -> float:
    """Rows/s landed by the commits after the first, up to the one before the last: whole rounds of a
    worker that always had a backlog. The first commit's round includes start-up; the last one's waits
    out the commit interval after the topic ran dry (nothing left to consume), which a live stream
    never does."""
    if len(snaps) < 3:
        raise RuntimeError(f"{len(snaps)} commits: too few for a steady rate (produce more reports)")
    steady = snaps[1:-1]
    return sum(rows for _, rows in steady) / (steady[-1][0] - snaps[0][0])


def throughput(args: argparse.Namespace) -> None:
    settings = get_settings()
    lane = Lane(settings, args.partitions)
    try:
        lane.produce("--start", "2026-09-01", "--count", str(args.reports))
        batch = settings.ingest.max_rows
        drain_rate = drain(lane, args.reports, decode=False, batch=batch)
        ceiling = drain(lane, args.reports, decode=True, batch=batch)
        floor = sink_floor(settings, lane.topic)
        per_message_floor = per_message_sink_floor(settings, lane.topic)
        one = run_workers(lane, 1, args.reports, "one")
        two = run_workers(lane, 2, args.reports, "two")
    finally:
        lane.close()
    results_file.write(
        "ingest",
        {
            "reports": args.reports,
            "partitions": args.partitions,
            "workers": [1, 2],
            "commit_interval_s": settings.ingest.commit_interval_s,
            "max_rows": settings.ingest.max_rows,
        },
        {
            "ingest_reports_per_s": one,
            "consumer_drain_reports_per_s": drain_rate,
            "python_ceiling_reports_per_s": ceiling,
            "ingest_python_ceiling_ratio": one / ceiling,
            "ingest_drain_ratio": one / drain_rate,
            "quix_floor_reports_per_s": floor,
            "ingest_quix_floor_ratio": one / floor,
            "quix_per_message_floor_reports_per_s": per_message_floor,
            "ingest_2_workers_reports_per_s": two,
            "ingest_2_workers_ratio": two / one,
        },
    )


def _produce_times(lane: Lane) -> dict[tuple[int, int], float]:
    """Kafka produce timestamp (s) of every message of the lane's topic."""
    consumer = Consumer(
        {
            **lane.settings.kafka.client(),
            "group.id": "ts",
            "enable.auto.commit": False,
        }
    )
    total = _total(lane)
    consumer.assign([TopicPartition(lane.topic, p, 0) for p in range(lane.partitions)])
    out: dict[tuple[int, int], float] = {}
    while len(out) < total:
        for m in consumer.consume(10_000, 1.0):
            if not m.error():
                out[(m.partition(), m.offset())] = m.timestamp()[1] / 1000
    consumer.close()
    return out


def freshness(args: argparse.Namespace) -> None:
    settings = get_settings()
    lane = Lane(settings, args.partitions)
    env = lane.env("fresh")
    log = Path("/tmp/bench-fresh.log").open("wb")  # noqa: SIM115
    worker = subprocess.Popen([HARMONY, "ingest"], env=env, stdout=log, stderr=subprocess.STDOUT)
    catalog = load_catalog(settings)
    seen: list[tuple[float, dict[int, int]]] = []
    try:
        time.sleep(8)  # worker up and subscribed
        sim = subprocess.Popen(
            simulate("--rate", str(args.rate), "--duration", str(args.seconds)),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        last_table = STREAMS["reports"].tables[-1][0]  # a round is visible when its last table commits
        ident = f"{lane.namespace}.{last_table.name}"
        last = None
        while True:
            try:
                table = catalog.load_table(ident)
            except Exception:
                time.sleep(0.1)
                continue
            now = time.time()
            snap = table.current_snapshot()
            if snap is not None and snap.snapshot_id != last:
                last = snap.snapshot_id
                seen.append((now, committed_offsets(table, lane.topic)))
            if sim.poll() is not None and seen and sum(seen[-1][1].values()) >= _total(lane):
                break
            time.sleep(0.1)
        produced = _produce_times(lane)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(60)
        lane.close()
    lat = []
    prev: dict[int, int] = {}
    for t, offsets in seen:
        for p, end in offsets.items():
            for o in range(prev.get(p, 0), end):
                if (p, o) in produced:
                    lat.append(t - produced[(p, o)])
        prev = offsets
    arr = np.array(lat)
    results_file.write(
        "ingest_freshness",
        {
            "rate": args.rate,
            "seconds": args.seconds,
            "partitions": args.partitions,
            "commit_interval_s": settings.ingest.commit_interval_s,
            "reports": len(arr),
            "visible_in": last_table.name,
            "poll_interval_s": 0.1,
        },
        {
            "freshness_p50_s": float(np.percentile(arr, 50)),
            "freshness_p99_s": float(np.percentile(arr, 99)),
            "freshness_max_s": float(arr.max()),
        },
    )


def _total(lane: Lane) -> int:
    consumer = Consumer(lane.settings.kafka.client({"group.id": "total"}))
    total = sum(
        int(consumer.get_watermark_offsets(TopicPartition(lane.topic, p), timeout=10)[1])
        for p in range(lane.partitions)
    )
    consumer.close()
    return total


def soak(args: argparse.Namespace) -> None:
    settings = get_settings()
    lane = Lane(settings, args.partitions)
    env = lane.env("soak")
    log_path = Path("/tmp/bench-soak.log")
    with log_path.open("wb") as log:
        worker = subprocess.Popen([HARMONY, "ingest"], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            time.sleep(8)
            subprocess.run(
                simulate("--rate", str(args.rate), "--duration", str(args.minutes * 60)),
                env=env,
                capture_output=True,
                check=True,
            )
            time.sleep(10)
            table = load_catalog(settings).load_table(f"{lane.namespace}.reports")
            files = len(table.inspect.files())
            snapshots = len(table.metadata.snapshots)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(60)
            lane.close()
    commits = [
        orjson.loads(line[line.index("{") :])
        for line in log_path.read_text().splitlines()
        if '"event":"commit"' in line and '.reports"' in line
    ]
    ms = np.array([c["commit_ms"] for c in commits])
    flush = np.array([c["flush_ms"] for c in commits])
    tenth = max(1, len(ms) // 10)
    hours = args.minutes / 60
    results_file.write(
        "ingest_soak",
        {
            "minutes": args.minutes,
            "rate": args.rate,
            "partitions": args.partitions,
            "commit_interval_s": settings.ingest.commit_interval_s,
            "commits": len(ms),
            "retain_snapshots": settings.ingest.retain_snapshots,
        },
        {
            "commit_latency_p50_ms": float(np.percentile(ms, 50)),
            "commit_latency_p99_ms": float(np.percentile(ms, 99)),
            "flush_latency_p50_ms": float(np.percentile(flush, 50)),
            "flush_latency_p99_ms": float(np.percentile(flush, 99)),
            "commit_latency_first_tenth_p50_ms": float(statistics.median(ms[:tenth])),
            "commit_latency_last_tenth_p50_ms": float(statistics.median(ms[-tenth:])),
            "commit_latency_first_tenth_p99_ms": float(np.percentile(ms[:tenth], 99)),
            "commit_latency_last_tenth_p99_ms": float(np.percentile(ms[-tenth:], 99)),
            "data_files_per_hour": files / hours,
            "snapshots_per_hour": len(ms) / hours,
            "snapshots_retained": snapshots,
        },
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("throughput")
    t.add_argument("--reports", type=int, default=2_000_000)
    f = sub.add_parser("freshness")
    f.add_argument("--rate", type=float, default=5000)
    f.add_argument("--seconds", type=float, default=120)
    s = sub.add_parser("soak")
    s.add_argument("--minutes", type=float, default=30)
    s.add_argument("--rate", type=float, default=2000)
    for p in (t, f, s):
        p.add_argument("--partitions", type=int, default=4)
    args = ap.parse_args()
    {"throughput": throughput, "freshness": freshness, "soak": soak}[args.cmd](args)


if __name__ == "__main__":
    main()
