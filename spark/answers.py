"""The four questions as pure functions of DataFrames (DataFrame API only), in two steps.

1. Counts: additive aggregates of raw rows (per day, hour, zone and word). Counts of two disjoint sets
   of rows add up, which is what lets ``harmony analyze --incremental`` read only appended rows.
2. Answers: each question finished from its counts plus the riot episodes (from the small alerts table,
   always read whole, since an escalated riot re-emits its alert under the same id).

Inputs: ``reports`` (raw.reports), ``observations`` (raw.citizen_observations), ``alerts`` (raw.alerts).
"Low" means a harmony score below the shared threshold.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.window import WindowSpec

from lakehouse.city import CITY
from lakehouse.tables import MIN_WORD_SUPPORT, PEAK_HOURS

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _iso_dow(day: Column) -> Column:
    """ISO day of week: Monday = 1 … Sunday = 7 (Spark's dayofweek has Sunday = 1)."""
    return ((F.dayofweek(day) + 5) % 7) + 1


def _everything() -> WindowSpec:
    """One window over a whole (small, aggregated) result, for ranks."""
    return Window.partitionBy(F.lit(1))


def _low(threshold: float) -> Column:
    return (F.col("harmony_score") < threshold).cast("long")


# ---- 1. counts ------------------------------------------------------------------------------------
def grain_counts(observations: DataFrame, threshold: float) -> DataFrame:
    """Per day, zone and hour, the one pass over the observations every count below is rolled up from.

    The grain holds at most days × zones × 24 rows: one aggregation of the 40M-row table instead of four
    (and no cache of it), the other counts summing a table of thousands.
    """
    return observations.groupBy(
        F.to_date("event_time").alias("day"), "zone", F.hour("event_time").alias("hour")
    ).agg(
        F.count("*").alias("citizens_seen"),
        F.sum(_low(threshold)).alias("low_score_citizens"),
        F.sum("harmony_score").alias("harmony_score_sum"),
    )


def _rolled_up(grain: DataFrame, *keys: str, score: bool = False) -> DataFrame:
    sums = ["citizens_seen", "low_score_citizens", *(["harmony_score_sum"] if score else [])]
    return grain.groupBy(*keys).agg(*[F.sum(c).alias(c) for c in sums])


def day_counts(grain: DataFrame) -> DataFrame:
    return _rolled_up(grain, "day")


def hour_counts(grain: DataFrame) -> DataFrame:
    return _rolled_up(grain, "hour")


def zone_counts(grain: DataFrame) -> DataFrame:
    return _rolled_up(grain, "zone", score=True)


def zone_hour_counts(grain: DataFrame) -> DataFrame:
    """Per day, zone and hour: the grain every filter of the dashboard (dates, day type, zones) needs."""
    return grain.select("day", "zone", "hour", "citizens_seen", "low_score_citizens")


def _count_below(values: Column, threshold: float) -> Column:
    """How many elements of an array of numbers are below the threshold, without a lambda: higher-order
    functions (``filter``) are interpreted row by row in Spark 3.5, and this is a third of the words answer's
    time. Sorted with the threshold added, the threshold's first position counts the elements before it."""
    return F.array_position(F.sort_array(F.concat(values, F.array(F.lit(threshold)))), threshold) - 1


def word_counts(reports: DataFrame, threshold: float) -> DataFrame:
    """Per word: citizen observations whose report heard it, and how many of those were low.

    Only the citizens' scores are read (nested column pruning), and both counts are taken per report
    before its distinct words are exploded, so the 120M exploded rows carry two numbers each.
    """
    scores = F.col("citizens.harmony_score")
    per_report = reports.select(
        F.array_distinct("words").alias("words"),
        F.size(scores).cast("long").alias("n_all"),
        _count_below(scores, threshold).cast("long").alias("n_low"),
    ).where(F.col("n_all") > 0)
    return (
        per_report.select(F.explode("words").alias("word"), "n_all", "n_low")
        .groupBy("word")
        .agg(F.sum("n_all").alias("citizens_hearing"), F.sum("n_low").alias("low_citizens_hearing"))
    )


def add_counts(a: DataFrame, b: DataFrame, *keys: str) -> DataFrame:
    """Counts of two disjoint sets of rows, summed per key."""
    measures = [c for c in a.columns if c not in keys]
    return (
        a.select(*keys, *measures)
        .unionByName(b.select(*keys, *measures))
        .groupBy(*keys)
        .agg(*[F.sum(c).alias(c) for c in measures])
    )


# ---- 2. answers ------------------------------------------------------------------------------------
def riots(alerts: DataFrame) -> DataFrame:
    """One row per riot episode (its first event time), however often its alert was re-emitted."""
    return (
        alerts.where(F.col("kind") == "riot")
        .groupBy("alert_id", "zone")
        .agg(F.min("event_time").alias("event_time"))
    )


def by_day(days: DataFrame, riot_episodes: DataFrame) -> DataFrame:
    """The daily series: what by_weekday is built from (and what an incremental run adds to)."""
    per_day = riot_episodes.groupBy(F.to_date("event_time").alias("day")).agg(
        F.count("*").alias("riot_alerts")
    )
    return (
        days.join(per_day, "day", "left")
        .fillna(0, ["riot_alerts"])
        .select(
            "day",
            F.col("citizens_seen").cast("long"),
            F.col("low_score_citizens").cast("long"),
            F.col("riot_alerts").cast("long"),
        )
        .orderBy("day")
    )


def by_weekday(daily: DataFrame) -> DataFrame:
    """Unrest per day of week: low-score citizens and riot episodes per calendar day observed."""
    names = F.element_at(F.array(*[F.lit(n) for n in DAY_NAMES]), F.col("day_of_week"))
    per_dow = daily.groupBy(_iso_dow(F.col("day")).alias("day_of_week")).agg(
        F.count("*").alias("days"),
        F.sum("citizens_seen").alias("citizens_seen"),
        F.sum("low_score_citizens").alias("low_score_citizens"),
        F.sum("riot_alerts").alias("riot_alerts"),
    )
    return per_dow.select(
        F.col("day_of_week").cast("int"),
        names.alias("day_name"),
        (F.col("day_of_week") >= 6).alias("is_weekend"),
        F.col("days").cast("long"),
        F.col("citizens_seen").cast("long"),
        F.col("low_score_citizens").cast("long"),
        F.col("riot_alerts").cast("long"),
        (F.col("low_score_citizens") / F.col("days")).alias("low_score_citizens_per_day"),
        (F.col("riot_alerts") / F.col("days")).alias("riot_alerts_per_day"),
    ).orderBy("day_of_week")


def by_hour(hours: DataFrame, riot_episodes: DataFrame) -> DataFrame:
    """Unrest by hour of day (UTC), with the peak hours flagged."""
    per_hour = riot_episodes.groupBy(F.hour("event_time").alias("hour")).agg(
        F.count("*").alias("riot_alerts")
    )
    joined = hours.join(per_hour, "hour", "left").fillna(0, ["riot_alerts"])
    rank = F.row_number().over(
        _everything().orderBy(F.col("low_score_citizens").desc(), F.col("riot_alerts").desc(), "hour")
    )
    return (
        joined.withColumn("unrest_rank", rank)
        .select(
            F.col("hour").cast("int"),
            F.col("citizens_seen").cast("long"),
            F.col("low_score_citizens").cast("long"),
            (F.col("low_score_citizens") / F.col("citizens_seen")).alias("low_score_share"),
            F.col("riot_alerts").cast("long"),
            F.col("unrest_rank").cast("int"),
            (F.col("unrest_rank") <= PEAK_HOURS).alias("is_peak"),
        )
        .orderBy("hour")
    )


def by_zone_hour(counts: DataFrame, riot_episodes: DataFrame) -> DataFrame:
    """Unrest per day, zone and hour (UTC): small enough for a page to filter and sum."""
    per_cell = riot_episodes.groupBy(
        F.to_date("event_time").alias("day"), "zone", F.hour("event_time").alias("hour")
    ).agg(F.count("*").alias("riot_alerts"))
    return (
        counts.join(per_cell, ["day", "zone", "hour"], "left")
        .fillna(0, ["riot_alerts"])
        .select(
            "day",
            "zone",
            F.col("hour").cast("int"),
            F.col("citizens_seen").cast("long"),
            F.col("low_score_citizens").cast("long"),
            F.col("riot_alerts").cast("long"),
        )
        .orderBy("day", "zone", "hour")
    )


def zone_centres(spark: SparkSession) -> DataFrame:
    rows = [(z.name, z.centre[0], z.centre[1]) for z in CITY.zones]
    return spark.createDataFrame(rows, "zone string, centre_lat double, centre_lon double")


def by_zone(zones: DataFrame, riot_episodes: DataFrame, centres: DataFrame) -> DataFrame:
    """The riskiest zones: riot episodes, low-score share and mean harmony, with each zone's centre."""
    per_zone = riot_episodes.groupBy("zone").agg(F.count("*").alias("riot_alerts"))
    joined = zones.join(per_zone, "zone", "left").fillna(0, ["riot_alerts"]).join(centres, "zone", "left")
    rank = F.row_number().over(
        _everything().orderBy(F.col("riot_alerts").desc(), F.col("low_score_citizens").desc(), "zone")
    )
    return joined.select(
        "zone",
        F.col("citizens_seen").cast("long"),
        F.col("low_score_citizens").cast("long"),
        (F.col("low_score_citizens") / F.col("citizens_seen")).alias("low_score_share"),
        (F.col("harmony_score_sum") / F.col("citizens_seen")).alias("avg_harmony_score"),
        F.col("harmony_score_sum").cast("double"),
        F.col("riot_alerts").cast("long"),
        "centre_lat",
        "centre_lon",
        rank.cast("int").alias("risk_rank"),
    ).orderBy("risk_rank")


def words(counts: DataFrame, hours: DataFrame) -> DataFrame:
    """Words most associated with low scores: lift = P(word | low citizen) / P(word | any citizen).

    A citizen observation "hears" every distinct word of its report. Totals are all observations (the
    hour counts); words heard by fewer than MIN_WORD_SUPPORT observations get no rank.
    """
    totals = hours.agg(
        F.sum("citizens_seen").alias("total_all"), F.sum("low_score_citizens").alias("total_low")
    )
    lifted = counts.crossJoin(totals).select(
        "word",
        F.col("citizens_hearing").cast("long"),
        F.col("low_citizens_hearing").cast("long"),
        (
            (F.col("low_citizens_hearing") / F.col("total_low"))
            / (F.col("citizens_hearing") / F.col("total_all"))
        ).alias("lift"),
    )
    supported = F.col("citizens_hearing") >= MIN_WORD_SUPPORT
    rank = F.row_number().over(Window.partitionBy(supported).orderBy(F.col("lift").desc(), "word"))
    return lifted.withColumn("lift_rank", F.when(supported, rank).cast("int")).orderBy("lift_rank", "word")
