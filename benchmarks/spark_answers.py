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
import time

from benchmarks import results_file
from lakehouse.catalog import load_catalog
from lakehouse.query import duck, duck_answers
from lakehouse.tables import ALERTS, CITIZEN_OBSERVATIONS, REPORTS, Answer, ensure_table
from testkit.lakes import bench_lake


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reports", type=int, default=10_000_000)
    ap.add_argument("--keep", action="store_true", help="keep the lake for inspection")
    args = ap.parse_args()
    with bench_lake("spark", args.keep) as lake:
        produce_s, ingest_s = lake.fill("--start", "2026-09-01", "--count", str(args.reports))
        settings = lake.settings
        catalog = load_catalog(settings)
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
