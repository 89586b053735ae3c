"""Predictive maintenance on the demo lake and on a 10M-report lake, in one run: training time (Spark
`local[2]`), the model's and the baseline's PR-AUC on the held-out days, the median lead time, and how
far the risks can be believed: expected over observed failing drone-hours on the held-out days
(``maintenance_calibration_ratio``, goal 0.5-2) and the precision at the chosen threshold beside the
battery rule's at the same number of groundings (``maintenance_precision_at_threshold``).

    .venv/bin/python -m benchmarks.maintenance [--reports 10000000] [--skip-demo-lake] [--keep]

Each lake is private: simulator backfill → one ingest worker. The demo lake is what `harmony demo`
makes (a week up to now of its fast-wearing 48-drone fleet, a report every 30 s; 1.5 days held out);
the 10M lake the default fleet (48 drones every 10 s: 24 days, half a citizen per report since training
reads the reports table only; 7 days held out). Train is timed with the Spark session already up (the
figure) and with its start-up, and `score` on the same session. Figures of the demo lake carry the
suffix ``_demo_lake``.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from benchmarks import results_file
from harmony.demo import DEMO_INTERVAL_S, DEMO_WEAR_LIFE_DAYS, HOLDOUT_DAYS
from testkit.lakes import Lake, bench_lake

TEN_M_HOLDOUT_DAYS = 7.0
DEMO_DAYS = 7


def measure(lake: Lake, holdout_days: float) -> tuple[dict[str, float], dict[str, Any]]:
    from spark.failure_training import score, train
    from spark.session import session

    settings = lake.settings
    t0 = time.monotonic()
    spark = session(settings, "local[2]", "bench-maintenance")
    startup_s = time.monotonic() - t0
    t0 = time.monotonic()
    card = train(spark, settings, holdout_days, print)
    train_s = time.monotonic() - t0
    t0 = time.monotonic()
    risks = score(spark, settings)
    score_s = time.monotonic() - t0
    spark.stop()
    ratio = card.calibration_ratio
    assert ratio is not None
    figures = {
        "maintenance_train_s": train_s,
        "maintenance_train_with_startup_s": train_s + startup_s,
        "maintenance_score_s": score_s,
        "maintenance_model_pr_auc": card.pr_auc,
        "maintenance_baseline_pr_auc": card.baseline_pr_auc,
        "maintenance_pr_auc_ratio": card.pr_auc / card.baseline_pr_auc,
        "maintenance_lead_time_median_h": card.lead_time_median_h or 0.0,
        "maintenance_calibration_ratio": ratio,
        "maintenance_precision_at_threshold": card.precision,
        "maintenance_baseline_precision_at_threshold": card.baseline_precision,
    }
    details = {
        "days": round((card.data_end - card.data_start).total_seconds() / 86_400, 1),
        "holdout_days": holdout_days,
        "train_rows": card.train_rows,
        "test_rows": card.test_rows,
        "train_failures": card.train_failures,
        "test_failures": card.test_failures,
        "failures_warned": card.failures_warned,
        "threshold": round(card.threshold, 4),
        "precision": round(card.precision, 3),
        "recall": round(card.recall, 3),
        "baseline_threshold_battery_pct": card.baseline_threshold,
        "baseline_precision": round(card.baseline_precision, 3),
        "baseline_recall": round(card.baseline_recall, 3),
        "expected_failing_drone_hours": round(card.expected_positives or 0.0, 1),
        "observed_failing_drone_hours": card.observed_positives,
        "intervals_90": card.intervals,
        "weak": card.weak,
        "assessment": card.assessment,
        "operating_point": card.operating_point,
        "drones_scored": len(risks),
        "drones_at_risk": sum(r.at_risk for r in risks),
        "failures_expected_next_24h": round(sum(r.risk for r in risks), 1),
    }
    return figures, details


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reports", type=int, default=10_000_000)
    ap.add_argument("--skip-demo-lake", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the lakes for inspection")
    args = ap.parse_args()
    figures: dict[str, float] = {}
    details: dict[str, Any] = {}
    if not args.skip_demo_lake:
        start = (datetime.now(UTC) - timedelta(days=DEMO_DAYS)).replace(second=0, microsecond=0)
        with bench_lake("maintdemo", args.keep) as lake:
            produce_s, ingest_s = lake.fill(
                "--start", start.strftime("%Y-%m-%dT%H:%M:%S"), "--days", str(DEMO_DAYS),
                "--interval", f"{DEMO_INTERVAL_S:g}", "--wear-life-days", f"{DEMO_WEAR_LIFE_DAYS:g}",
            )  # fmt: skip
            demo_figures, details["demo_lake"] = measure(lake, HOLDOUT_DAYS)
        figures |= {f"{k}_demo_lake": v for k, v in demo_figures.items()}
        details["demo_lake"] |= {"produce_s": round(produce_s, 1), "ingest_s": round(ingest_s, 1)}
    with bench_lake("maint", args.keep) as lake:
        produce_s, ingest_s = lake.fill(
            "--start", "2026-09-01", "--count", str(args.reports), "--citizens-per-report", "0.5"
        )
        ten_m, details["lake_10m"] = measure(lake, TEN_M_HOLDOUT_DAYS)
    figures |= ten_m
    details["lake_10m"] |= {"produce_s": round(produce_s, 1), "ingest_s": round(ingest_s, 1)}
    results_file.write(
        "maintenance",
        {
            "reports": args.reports,
            "drones": 48,
            "holdout_days": TEN_M_HOLDOUT_DAYS,
            "demo_lake": None
            if args.skip_demo_lake
            else {
                "days": DEMO_DAYS,
                "interval_s": DEMO_INTERVAL_S,
                "wear_life_days": DEMO_WEAR_LIFE_DAYS,
                "holdout_days": HOLDOUT_DAYS,
            },
            "horizon_h": 24,
            "master": "local[2]",
            "goals": {
                "maintenance_calibration_ratio": [0.5, 2.0],
                "maintenance_precision_at_threshold": ">= the rule's",
            },
        },
        figures,
        details,
    )


if __name__ == "__main__":
    main()
