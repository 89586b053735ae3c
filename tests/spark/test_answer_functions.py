"""The answers' pure DataFrame functions (``spark/answers.py``), in-process on frames of a few rows whose
results are worked out by hand: no lake, no server, one local Spark session for the module. The same
functions on the seeded lake, against DuckDB, are tests/spark/test_answers.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse.tables import MIN_WORD_SUPPORT, PEAK_HOURS
from spark import answers
from spark.session import local_session

THRESHOLD = 30.0
OBSERVATIONS = "event_time timestamp, zone string, harmony_score double"
ALERTS = "alert_id string, kind string, zone string, event_time timestamp"
REPORTS = "words array<string>, citizens array<struct<harmony_score: double>>"


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkSession]:
    s = local_session("test-answer-functions")
    yield s
    s.stop()


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A time in the week of Monday 2026-09-07 (``day`` 7 is that Monday)."""
    return datetime(2026, 9, day, hour, minute, tzinfo=UTC)


def rows(frame: DataFrame, *columns: str) -> list[tuple[Any, ...]]:
    return [tuple(r[c] for c in columns) for r in frame.collect()]


def observations(spark: SparkSession, *obs: tuple[datetime, str, float]) -> DataFrame:
    return spark.createDataFrame(list(obs), OBSERVATIONS)


def alerts(spark: SparkSession, *rows_: tuple[str, str, str, datetime]) -> DataFrame:
    return spark.createDataFrame(list(rows_), ALERTS)


def test_the_grain_counts_citizens_and_low_ones_per_day_zone_and_hour(spark: SparkSession) -> None:
    grain = answers.grain_counts(
        observations(
            spark,
            (at(7, 9, 1), "harbour", 10.0),
            (at(7, 9, 59), "harbour", 30.0),  # not below the threshold
            (at(7, 9, 30), "old-town", 20.0),
            (at(8, 9, 0), "harbour", 90.0),
        ),
        THRESHOLD,
    )
    got = sorted(
        rows(grain, "day", "zone", "hour", "citizens_seen", "low_score_citizens", "harmony_score_sum")
    )
    assert got == [
        (date(2026, 9, 7), "harbour", 9, 2, 1, 40.0),
        (date(2026, 9, 7), "old-town", 9, 1, 1, 20.0),
        (date(2026, 9, 8), "harbour", 9, 1, 0, 90.0),
    ]
    assert sorted(rows(answers.day_counts(grain), "day", "citizens_seen", "low_score_citizens")) == [
        (date(2026, 9, 7), 3, 2),
        (date(2026, 9, 8), 1, 0),
    ]
    assert rows(answers.zone_counts(grain).where("zone = 'harbour'"), "harmony_score_sum") == [(130.0,)]


def test_counts_of_two_disjoint_sets_add_up_to_the_counts_of_both(spark: SparkSession) -> None:
    """What an incremental run relies on: counts of the appended rows added to the old counts are the
    counts of every row."""
    old = [(at(7, h), "harbour", float(h * 4)) for h in range(12)]
    new = [(at(7, h), z, float(h * 3)) for h in range(6, 18) for z in ("harbour", "old-town")]
    both = answers.day_counts(answers.grain_counts(observations(spark, *old, *new), THRESHOLD))
    added = answers.add_counts(
        answers.day_counts(answers.grain_counts(observations(spark, *old), THRESHOLD)),
        answers.day_counts(answers.grain_counts(observations(spark, *new), THRESHOLD)),
        "day",
    )
    columns = ("day", "citizens_seen", "low_score_citizens")
    assert sorted(rows(added, *columns)) == sorted(rows(both, *columns)) == [(date(2026, 9, 7), 36, 16)]


def test_a_riot_re_emitted_under_its_id_is_one_episode_at_its_first_time(spark: SparkSession) -> None:
    episodes = answers.riots(
        alerts(
            spark,
            ("r1", "riot", "harbour", at(7, 21, 5)),
            ("r1", "riot", "harbour", at(7, 21, 1)),  # escalated: the same episode, earlier time kept
            ("r2", "riot", "old-town", at(8, 3)),
            ("c1", "citizen", "harbour", at(7, 10)),  # not a riot
        )
    )
    shown = episodes.select("alert_id", "zone", F.date_format("event_time", "d HH:mm").alias("at"))
    assert sorted(rows(shown, "alert_id", "zone", "at")) == [
        ("r1", "harbour", "7 21:01"),
        ("r2", "old-town", "8 03:00"),
    ]


def test_days_without_a_riot_count_zero_and_weekdays_follow_iso(spark: SparkSession) -> None:
    obs = [(at(d, 12), "harbour", 10.0 if d % 2 else 50.0) for d in range(7, 14)]  # Monday … Sunday
    days = answers.day_counts(answers.grain_counts(observations(spark, *obs), THRESHOLD))
    episodes = answers.riots(
        alerts(spark, ("r", "riot", "harbour", at(12, 20)), ("s", "riot", "x", at(12, 22)))
    )
    daily = answers.by_day(days, episodes)
    assert rows(daily, "day", "riot_alerts") == [
        (date(2026, 9, d), 2 if d == 12 else 0) for d in range(7, 14)
    ]
    weekly = answers.by_weekday(daily)
    got = rows(weekly, "day_of_week", "day_name", "is_weekend", "days", "low_score_citizens", "riot_alerts")
    assert got == [
        (1, "Monday", False, 1, 1, 0),
        (2, "Tuesday", False, 1, 0, 0),
        (3, "Wednesday", False, 1, 1, 0),
        (4, "Thursday", False, 1, 0, 0),
        (5, "Friday", False, 1, 1, 0),
        (6, "Saturday", True, 1, 0, 2),
        (7, "Sunday", True, 1, 1, 0),
    ]


def test_the_peak_hours_are_the_most_low_citizens_riots_breaking_ties(spark: SparkSession) -> None:
    lows = {20: 5, 21: 5, 22: 3, 3: 3, 9: 1}  # hour -> low citizens (one calm citizen each hour too)
    obs = [(at(7, h), "harbour", 10.0) for h, n in lows.items() for _ in range(n)]
    obs += [(at(7, h), "harbour", 80.0) for h in lows]
    hours = answers.hour_counts(answers.grain_counts(observations(spark, *obs), THRESHOLD))
    episodes = answers.riots(
        alerts(spark, ("r", "riot", "harbour", at(7, 21, 30)), ("s", "riot", "h", at(7, 3)))
    )
    got = rows(answers.by_hour(hours, episodes), "hour", "unrest_rank", "is_peak", "low_score_share")
    assert PEAK_HOURS == 3, "the expected flags below are for three peak hours"
    assert got == [
        (3, 3, True, 3 / 4),  # ties 22 on low citizens, wins on its riot
        (9, 5, False, 1 / 2),
        (20, 2, True, 5 / 6),
        (21, 1, True, 5 / 6),  # ties 20 on low citizens, wins on its riot
        (22, 4, False, 3 / 4),
    ]


def test_zones_rank_by_riots_then_low_citizens_with_their_centres(spark: SparkSession) -> None:
    obs = [(at(7, 1), "harbour", 10.0)] * 3 + [(at(7, 1), "old-town", 10.0)] * 5 + [(at(7, 1), "park", 70.0)]
    zones = answers.zone_counts(answers.grain_counts(observations(spark, *obs), THRESHOLD))
    episodes = answers.riots(alerts(spark, ("r", "riot", "harbour", at(7, 2))))
    centres = spark.createDataFrame(
        [("harbour", 1.0, 2.0), ("old-town", 3.0, 4.0)], "zone string, centre_lat double, centre_lon double"
    )
    got = rows(
        answers.by_zone(zones, episodes, centres), "zone", "risk_rank", "avg_harmony_score", "centre_lat"
    )
    assert got == [("harbour", 1, 10.0, 1.0), ("old-town", 2, 10.0, 3.0), ("park", 3, 70.0, None)]


def test_a_word_is_counted_once_per_report_and_ranked_only_with_enough_support(spark: SparkSession) -> None:
    low, calm = {"harmony_score": 10.0}, {"harmony_score": 90.0}
    reports = spark.createDataFrame(
        [(["riot", "riot", "bread"], [low, low, calm])] * MIN_WORD_SUPPORT  # riot heard 3 times a report
        + [(["bread"], [calm, calm])] * MIN_WORD_SUPPORT
        + [(["rare"], [low])]  # too few to rank
        + [(["nobody"], [])],  # a report with no citizens hears nothing
        REPORTS,
    )
    counts = answers.word_counts(reports, THRESHOLD)
    assert sorted(rows(counts, "word", "citizens_hearing", "low_citizens_hearing")) == [
        ("bread", 5 * MIN_WORD_SUPPORT, 2 * MIN_WORD_SUPPORT),
        ("rare", 1, 1),
        ("riot", 3 * MIN_WORD_SUPPORT, 2 * MIN_WORD_SUPPORT),
    ]
    hours = spark.createDataFrame(
        [(5 * MIN_WORD_SUPPORT + 1, 2 * MIN_WORD_SUPPORT + 1)], "citizens_seen long, low_score_citizens long"
    )
    ranked = {
        w: (rank, lift) for w, rank, lift in rows(answers.words(counts, hours), "word", "lift_rank", "lift")
    }
    total_all, total_low = 5 * MIN_WORD_SUPPORT + 1, 2 * MIN_WORD_SUPPORT + 1
    assert ranked["riot"][0] == 1 and ranked["bread"][0] == 2 and ranked["rare"][0] is None
    want = (2 * MIN_WORD_SUPPORT / total_low) / (3 * MIN_WORD_SUPPORT / total_all)
    assert ranked["riot"][1] == pytest.approx(want)
