"""Predictive maintenance on a 10M-report lake: training time (Spark `local[2]`), the model's and the
baseline's PR-AUC on the held-out week, and the median lead time before a failure.

    .venv/bin/python -m benchmarks.maintenance [--reports 10000000] [--keep]

Builds a private lake: simulator backfill (the default fleet of 48 drones reporting every 10 s: 10M
reports are 24 days; half a citizen per report, since training reads the reports table only) → one
ingest worker. Then times `train` with the Spark session already up (the figure) and with its start-up,
and `score` on the same session.
"""

from __future__ import annotations

import argparse
import time

from benchmarks import results_file
from benchmarks.private_lake import private_lake

HOLDOUT_DAYS = 7.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reports", type=int, default=10_000_000)
    ap.add_argument("--keep", action="store_true", help="keep the lake for inspection")
    args = ap.parse_args()
    with private_lake("maint", args.keep) as lake:
        produce_s, ingest_s = lake.fill(
            "--start", "2026-09-01", "--count", str(args.reports), "--citizens-per-report", "0.5"
        )

        from spark.failure_training import score, train
        from spark.session import session

        settings = lake.settings
        t0 = time.monotonic()
        spark = session(settings, "local[2]", "bench-maintenance")
        startup_s = time.monotonic() - t0
        t0 = time.monotonic()
        card = train(spark, settings, HOLDOUT_DAYS, print)
        train_s = time.monotonic() - t0
        t0 = time.monotonic()
        risks = score(spark, settings)
        score_s = time.monotonic() - t0
        spark.stop()
    assert card.lead_time_median_h is not None
    results_file.write(
        "maintenance",
        {
            "reports": args.reports,
            "drones": 48,
            "days": round((card.data_end - card.data_start).total_seconds() / 86_400, 1),
            "holdout_days": HOLDOUT_DAYS,
            "horizon_h": card.horizon_h,
            "master": "local[2]",
            "algorithm": card.algorithm,
            "produce_s": round(produce_s, 1),
            "ingest_s": round(ingest_s, 1),
        },
        {
            "maintenance_train_s": train_s,
            "maintenance_train_with_startup_s": train_s + startup_s,
            "maintenance_score_s": score_s,
            "maintenance_model_pr_auc": card.pr_auc,
            "maintenance_baseline_pr_auc": card.baseline_pr_auc,
            "maintenance_pr_auc_ratio": card.pr_auc / card.baseline_pr_auc,
            "maintenance_lead_time_median_h": card.lead_time_median_h,
        },
        {
            "train_rows": card.train_rows,
            "test_rows": card.test_rows,
            "train_failures": card.train_failures,
            "test_failures": card.test_failures,
            "failures_warned": card.failures_warned,
            "threshold": card.threshold,
            "precision": round(card.precision, 3),
            "recall": round(card.recall, 3),
            "baseline_threshold_battery_pct": card.baseline_threshold,
            "baseline_precision": round(card.baseline_precision, 3),
            "baseline_recall": round(card.baseline_recall, 3),
            "lead_time_mean_h": round(card.lead_time_mean_h or 0.0, 2),
            "drones_scored": len(risks),
            "drones_at_risk": sum(r.at_risk for r in risks),
        },
    )


if __name__ == "__main__":
    main()
