"""A fleet lake for predictive maintenance, built once per test session: five weeks of a seeded fleet
(wear, failures, maintenance; few citizens, no riots) → Kafka → ingest → `harmony maintenance train`
and `score` → `harmony alert` over the same topic with the trained model. Registered by
``tests/conftest.py``; read by tests/spark/test_failure_training.py and tests/alerting."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lakehouse.settings import Settings
from tests.seeded import SeededLake, private_lake

HOLDOUT_DAYS = 12
FLEET = (
    "--start", "2026-08-03", "--days", "36", "--drones", "40", "--interval", "180", "--riots-per-day", "0",
    "--citizens-per-report", "0.5", "--citizens", "2000", "--seed", "5",
)  # fmt: skip


@pytest.fixture(scope="session")
def fleet_lake(stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededLake]:
    with private_lake(stack, "fleet", tmp_path_factory.mktemp("fleet")) as lake:
        lake.harmony("simulate", *FLEET, "--ground-truth", str(lake.tmp / "truth.jsonl"))
        lake.harmony("ingest", "--timeout", "8")
        lake.harmony("maintenance", "train", "--master", "local[2]", "--holdout-days", str(HOLDOUT_DAYS))
        lake.harmony("maintenance", "score", "--master", "local[2]")
        lake.harmony("alert", "--quiet", "--timeout", "10")
        yield lake
