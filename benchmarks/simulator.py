"""Reports per second one simulator process delivers to the local broker, delivery confirmed.

Run: .venv/bin/python -m benchmarks.simulator [--reports N] [--repeats 3] [--profile]
The figure is the median of ``--repeats`` runs. Also measures, in the same run, generation alone (no
Kafka) and a raw produce loop of pre-built bytes (no generation), so the figure can be read against both
ceilings, and the same reports from two producer processes (``harmony simulate --processes 2``).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from confluent_kafka.admin import AdminClient, NewTopic

from benchmarks import results_file
from lakehouse.settings import get_settings
from simulator.config import SimulatorConfig
from simulator.delivery import ReportProducer
from simulator.generator import ReportGenerator
from simulator.lanes import Run, run_lanes

START = datetime(2026, 9, 1, tzinfo=UTC)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reports", type=int, default=1_000_000)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    settings = get_settings()
    admin = AdminClient(settings.kafka.client())
    topic = f"bench-sim-{uuid.uuid4().hex[:6]}"
    admin.create_topics([NewTopic(topic, num_partitions=args.partitions, replication_factor=1)])[
        topic
    ].result(15)
    config = SimulatorConfig()
    try:
        # 1. generation only
        gen = ReportGenerator(config)
        t0 = time.perf_counter()
        batches = list(gen.backfill(START, args.reports))
        gen_s = time.perf_counter() - t0
        payload = sum(len(v) for b in batches for v in b.values)

        # 2. produce pre-built bytes only (the client's ceiling on this machine)
        producer = ReportProducer(settings.kafka.client(), topic)
        t0 = time.perf_counter()
        for b in batches:
            producer.send(b.keys, b.values)
        stats = producer.flush()
        produce_s = time.perf_counter() - t0
        assert stats.delivered == args.reports and stats.failed == 0
        del batches

        # 3. the simulator as it runs: generate and produce, delivery confirmed; the median of the repeats,
        # since a 5-second run on this shared machine varies by ±10%
        one: list[float] = []
        prof = cProfile.Profile() if args.profile else None
        for _ in range(args.repeats):
            producer = ReportProducer(settings.kafka.client(), topic)
            gen = ReportGenerator(config)
            t0 = time.perf_counter()
            if prof:
                prof.enable()
            for b in gen.backfill(START, args.reports):
                producer.send(b.keys, b.values)
            stats = producer.flush()
            if prof:
                prof.disable()
            one.append(args.reports / (time.perf_counter() - t0))
            assert stats.delivered == args.reports and stats.failed == 0

        # 4. the same with --processes 2 (each process simulating half the fleet), process start included
        two: list[float] = []
        for _ in range(args.repeats):
            run = Run(config, 0, START, args.reports, None, 0.0, Path(tempfile.mkdtemp()) / "truth.jsonl",
                      settings.kafka.client(), topic)  # fmt: skip
            t0 = time.perf_counter()
            stats, _ = run_lanes(run, 2, lambda _: None)
            two.append(args.reports / (time.perf_counter() - t0))
            assert stats.delivered == args.reports and stats.failed == 0 and not stats.errors, stats
    finally:
        admin.delete_topics([topic])[topic].result(15)
    if prof:
        pstats.Stats(prof).sort_stats("tottime").print_stats(12)
    results_file.write(
        "simulator",
        {
            "reports": args.reports,
            "partitions": args.partitions,
            "drones": config.drones,
            "mean_report_bytes": round(payload / args.reports),
            "repeats": args.repeats,
            "one_process_runs_reports_per_s": [round(r) for r in one],
            "two_processes_runs_reports_per_s": [round(r) for r in two],
        },
        {
            "simulator_reports_per_s": statistics.median(one),
            "generate_only_reports_per_s": args.reports / gen_s,
            "produce_only_reports_per_s": args.reports / produce_s,
            "simulator_2_processes_reports_per_s": statistics.median(two),
            "simulator_2_processes_ratio": statistics.median(two) / statistics.median(one),
        },
    )


if __name__ == "__main__":
    main()
