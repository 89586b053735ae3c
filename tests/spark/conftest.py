"""The Spark tests read the session's seeded lake (``tests/seeded.py``)."""

from tests.seeded import BACKFILL, WEEKEND_MULTIPLIER, SeededLake

__all__ = ["BACKFILL", "WEEKEND_MULTIPLIER", "SeededLake"]
