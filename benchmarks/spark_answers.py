"""The four answers on a 10M-report lake: Spark local[2] against DuckDB, same tables, same run.

    .venv/bin/python -m benchmarks.spark_answers [--reports 10000000] [--keep]

Builds a private lake: simulator backfill → one ingest worker (default settings). The alerts table is
left empty (alerting a 10M backlog is measured in its own benchmark), so the riot columns are zero and
the work is the reports and observations scans. Then times `analyze` (Spark session already up, and
with its start-up) and the same four queries on DuckDB, and the data files before and after
`lake maintain`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
import uuid

from confluent_kafka.admin import AdminClient, NewTopic

from benchmarks import results_file
from benchmarks.commands import HARMONY, simulate
from lakehouse.catalog import load_catalog
from lakehouse.query import duck, duck_answers
from lakehouse.settings import get_settings
from lakehouse.tables import ALERTS, CITIZEN_OBSERVATIONS, REPORTS, Answer, ensure_table, purge_namespace


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reports", type=int, default=10_000_000)
    ap.add_argument("--keep", action="store_true", help="keep the lake for inspection")
    args = ap.parse_args()
    token = uuid.uuid4().hex[:6]
    env = {
        **os.environ,
        "HARMONY_KAFKA__REPORTS_TOPIC": f"bench-spark-{token}",
        "HARMONY_CATALOG__RAW_NAMESPACE": f"bench_spark_raw_{token}",
        "HARMONY_CATALOG__ANSWERS_NAMESPACE": f"bench_spark_answers_{token}",
        "HARMONY_INGEST__CONSUMER_GROUP": f"bench-spark-{token}",
    }
    os.environ.update(env)
    get_settings.cache_clear()
    settings = get_settings()
    admin = AdminClient({"bootstrap.servers": settings.kafka.bootstrap_servers})
    admin.create_topics([NewTopic(settings.kafka.reports_topic, 4, 1)])[settings.kafka.reports_topic].result(
        15
    )
    catalog = load_catalog(settings)
    try:
        t0 = time.monotonic()
        subprocess.run(
            simulate("--start", "2026-09-01", "--count", str(args.reports)),
            env=env,
            check=True,
            capture_output=True,
        )
        produce_s = time.monotonic() - t0
        t0 = time.monotonic()
        subprocess.run([HARMONY, "ingest", "--timeout", "15"], env=env, check=True, capture_output=True)
        ingest_s = time.monotonic() - t0
        ensure_table(catalog, ALERTS, settings)

        from spark.jobs import analyze
        from spark.maintenance import maintain
        from spark.session import session

        t0 = time.monotonic()
        spark = session(settings, "local[2]", "bench-answers")
        startup_s = time.monotonic() - t0
        t0 = time.monotonic()
        analyze(spark, settings, print)
        spark_s = time.monotonic() - t0

        reports, observations, alerts = (
            duck.scan(catalog.load_table(s.identifier(settings)))
            for s in (REPORTS, CITIZEN_OBSERVATIONS, ALERTS)
        )
        con = duck.connect(settings)
        t0 = time.monotonic()
        for answer in Answer:
            duck_answers.answer(
                con, answer, reports, observations, alerts, settings.rules.low_harmony_threshold
            )
        duck_s = time.monotonic() - t0

        runs = maintain(spark, settings)
        spark.stop()
    finally:
        if args.keep:
            print("kept: " + " ".join(f"{k}={v}" for k, v in env.items() if k.startswith("HARMONY_")))
        else:
            admin.delete_topics([settings.kafka.reports_topic])[settings.kafka.reports_topic].result(15)
            for ns in (settings.catalog.raw_namespace, settings.catalog.answers_namespace):
                purge_namespace(catalog, ns)
    files = {r.table.split(".")[-1]: r for r in runs}
    results_file.write(
        "spark_answers",
        {
            "reports": args.reports,
            "master": "local[2]",
            "alerts": 0,
            "observations": files["citizen_observations"].rows_after,
            "produce_s": round(produce_s, 1),
            "ingest_s": round(ingest_s, 1),
        },
        {
            "spark_four_answers_s": spark_s,
            "spark_four_answers_with_startup_s": spark_s + startup_s,
            "duckdb_four_answers_s": duck_s,
            "spark_duckdb_ratio": spark_s / duck_s,
            "reports_files_before_maintenance": files["reports"].files_before,
            "reports_files_after_maintenance": files["reports"].files_after,
            "observations_files_before_maintenance": files["citizen_observations"].files_before,
            "observations_files_after_maintenance": files["citizen_observations"].files_after,
        },
    )


if __name__ == "__main__":
    main()
