"""Scale-out of the containerized processors: one worker against two in the same group, same run.

    .venv/bin/python -m benchmarks.scale_out [--reports 1000000]

Builds the image (`harmony images build`, cached), backfills one topic of ``--reports`` (4 partitions), then
runs the project image under podman (host network, credentials from .env): one ingest worker, then two in a
fresh group and namespace; one riot-rules worker, then two in a fresh group. Ingest rates count the rows
landed between the first and the last Iceberg commit; rules rates count the group's committed offsets from
its first progress to the end. Writes ``benchmarks/results/scale_out.json`` (with ``image_size_mb``).
"""

from __future__ import annotations

import argparse
import subprocess
import time
import uuid
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import NewTopic

from benchmarks import results_file
from benchmarks.ingest import Lane, snapshot_times
from ingest.writer import committed_offsets
from lakehouse.catalog import load_catalog
from lakehouse.settings import Settings, get_settings
from lakehouse.tables import purge_namespace
from stack.images import IMAGE, ROOT, build, podman_env


def containers(settings: Settings, n: int, env: dict[str, str], *command: str) -> list[str]:
    names = [f"bench-{uuid.uuid4().hex[:6]}" for _ in range(n)]
    for name in names:
        args = ["podman", "run", "-d", "--name", name, "--network", "host", "--env-file", str(ROOT / ".env")]
        for key, value in env.items():
            args += ["-e", f"{key}={value}"]
        subprocess.run([*args, f"{IMAGE}:latest", *command], env=podman_env(settings), check=True,
                       capture_output=True)  # fmt: skip
    return names


def remove(settings: Settings, names: list[str]) -> None:
    """Keep each container's log in /tmp, then remove it."""
    env = podman_env(settings)
    for name in names:
        logs = subprocess.run(["podman", "logs", name], env=env, capture_output=True, check=False)
        Path(f"/tmp/{name}.log").write_bytes(logs.stdout + logs.stderr)
        subprocess.run(["podman", "rm", "-f", "-t", "30", name], env=env, check=False, capture_output=True)


def ingest_rate(lane: Lane, n: int, total: int) -> float:
    tag = f"c{n}_{uuid.uuid4().hex[:4]}"
    ns = f"{lane.namespace}_{tag}"
    env = {"HARMONY_KAFKA__REPORTS_TOPIC": lane.topic, "HARMONY_CATALOG__RAW_NAMESPACE": ns,
           "HARMONY_INGEST__CONSUMER_GROUP": f"bench-{tag}"}  # fmt: skip
    names = containers(lane.settings, n, env, "harmony", "ingest")
    catalog = load_catalog(lane.settings)
    try:
        deadline = time.monotonic() + 1200
        while time.monotonic() < deadline:
            time.sleep(1)
            try:
                table = catalog.load_table(f"{ns}.citizen_observations")
            except Exception:
                continue
            if sum(committed_offsets(table, lane.topic).values()) >= total:
                break
        else:
            raise RuntimeError(f"{n} containerized workers did not land {total} reports in time")
    finally:
        remove(lane.settings, names)
    snaps = snapshot_times(f"{ns}.reports", lane.settings)
    (first_t, first_rows), last_t = snaps[0], snaps[-1][0]
    rate = (sum(rows for _, rows in snaps) - first_rows) / (last_t - first_t)
    purge_namespace(catalog, ns)
    return rate


def rules_rate(lane: Lane, n: int, total: int) -> float:
    group = f"bench-rules-{n}-{uuid.uuid4().hex[:4]}"
    env = {"HARMONY_KAFKA__REPORTS_TOPIC": lane.topic, "HARMONY_KAFKA__ALERTS_TOPIC": f"{lane.topic}-alerts",
           "HARMONY_ALERTING__CONSUMER_GROUP": group}  # fmt: skip
    names = containers(lane.settings, n, env, "harmony", "alert", "--quiet", "--role", "rules")
    consumer = Consumer(lane.settings.kafka.client({"group.id": group}))
    parts = [TopicPartition(lane.topic, p) for p in range(lane.partitions)]
    first = None
    try:
        deadline = time.monotonic() + 1200
        while time.monotonic() < deadline:
            time.sleep(0.5)
            done = sum(max(tp.offset, 0) for tp in consumer.committed(parts, timeout=10))
            if done > 0 and first is None:
                first = (time.monotonic(), done)
            if done >= total:
                break
        else:
            raise RuntimeError(f"{n} rules containers did not process {total} reports in time")
        assert first is not None
        return float(total - first[1]) / (time.monotonic() - first[0])
    finally:
        consumer.close()
        remove(lane.settings, names)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reports", type=int, default=1_000_000)
    args = ap.parse_args()
    settings = get_settings()
    built = build(settings)
    lane = Lane(settings, 4)
    alerts = f"{lane.topic}-alerts"
    lane.admin.create_topics([NewTopic(alerts, 4, 1)])[alerts].result(15)
    try:
        lane.produce("--start", "2026-09-01", "--count", str(args.reports))
        figures = {
            "ingest_1_container_reports_per_s": ingest_rate(lane, 1, args.reports),
            "ingest_2_workers_reports_per_s": ingest_rate(lane, 2, args.reports),
            "alerting_1_worker_reports_per_s": rules_rate(lane, 1, args.reports),
            "alerting_2_workers_reports_per_s": rules_rate(lane, 2, args.reports),
            "image_size_mb": built.size_mb,
        }
    finally:
        lane.admin.delete_topics([alerts])[alerts].result(15)
        lane.close()
    figures["ingest_2_workers_speedup"] = (
        figures["ingest_2_workers_reports_per_s"] / figures["ingest_1_container_reports_per_s"]
    )
    figures["alerting_2_workers_speedup"] = (
        figures["alerting_2_workers_reports_per_s"] / figures["alerting_1_worker_reports_per_s"]
    )
    results_file.write(
        "scale_out",
        {"reports": args.reports, "partitions": 4, "image": built.image, "base": built.base, "cores": 2},
        figures,
    )


if __name__ == "__main__":
    main()
