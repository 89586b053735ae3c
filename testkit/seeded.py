"""The recipes of the session's shared lakes: what the simulator is asked for, and the steps that fill
them. The seeded lake (two weeks of a city with riots: ingested, alerted, analysed) is read by Spark's and
the dashboard's tests; the fleet lake (five weeks of wear, failures and maintenance) by the failure model's.
Both are read-only to their readers: a test that changes a lake makes one of its own."""

from __future__ import annotations

from testkit.lakes import Lake

WEEKEND_MULTIPLIER = 1.6
BACKFILL = (
    "--start", "2026-09-07", "--days", "14", "--drones", "16", "--interval", "30", "--riots-per-day", "1",
    "--weekend-multiplier", str(WEEKEND_MULTIPLIER), "--seed", "21",
)  # fmt: skip

HOLDOUT_DAYS = 12
FLEET = (
    "--start", "2026-08-03", "--days", "36", "--drones", "40", "--interval", "180", "--riots-per-day", "0",
    "--citizens-per-report", "0.5", "--citizens", "2000", "--seed", "5",
)  # fmt: skip


# A small city of a test module's own (three days, eight drones), for the tests that change their lake.
SMALL = (
    "--start", "2026-09-07", "--days", "3", "--drones", "8", "--interval", "60", "--riots-per-day", "1",
    "--seed", "23",
)  # fmt: skip


def seed(
    lake: Lake, backfill: tuple[str, ...] = BACKFILL, max_rows: int = 20_000, analyse: bool = True
) -> None:
    """Backfill → ingest (small commits on purpose: many small files for maintenance to compact) and
    alerting → the answers (``analyse``)."""
    lake.harmony("simulate", *backfill, "--ground-truth", str(lake.tmp / "truth.jsonl"))
    ingest = lake.popen("ingest", "--max-rows", str(max_rows), "--timeout", "8")
    lake.harmony("alert", "--quiet", "--timeout", "8")
    lake.harmony("ingest", "--stream", "alerts", "--timeout", "8")
    assert ingest.wait(600) == 0
    if analyse:
        lake.harmony("analyze", "--master", "local[2]")


def seed_fleet(lake: Lake) -> None:
    """The fleet → ingest → `harmony maintenance train` and `score` → `harmony alert` with the model."""
    lake.harmony("simulate", *FLEET, "--ground-truth", str(lake.tmp / "truth.jsonl"))
    lake.harmony("ingest", "--timeout", "8")
    lake.harmony("maintenance", "train", "--master", "local[2]", "--holdout-days", str(HOLDOUT_DAYS))
    lake.harmony("maintenance", "score", "--master", "local[2]")
    lake.harmony("alert", "--quiet", "--timeout", "10")
