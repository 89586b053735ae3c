"""The four questions, each a pure function from DataFrames to a DataFrame (DataFrame API only).

Inputs are the raw tables as DataFrames: ``reports`` (raw.reports), ``observations``
(raw.citizen_observations) and ``alerts`` (raw.alerts, one row per alert message; an escalated riot
appears several times under one ``alert_id``). "Low" means a harmony score below the shared threshold.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.window import WindowSpec

from lakehouse.city import CITY

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MIN_WORD_SUPPORT = 50
PEAK_HOURS = 3


def _iso_dow(ts: Column) -> Column:
    """ISO day of week: Monday = 1 … Sunday = 7 (Spark's dayofweek has Sunday = 1)."""
    return ((F.dayofweek(ts) + 5) % 7) + 1


def _riots(alerts: DataFrame) -> DataFrame:
    """One row per riot episode (its first event time), however often its alert was re-emitted."""
    return (
        alerts.where(F.col("kind") == "riot")
        .groupBy("alert_id", "zone")
        .agg(F.min("event_time").alias("event_time"))
    )


def by_weekday(observations: DataFrame, alerts: DataFrame, threshold: float) -> DataFrame:
    """Unrest per day of week: low-score citizens and riot episodes per calendar day observed."""
    days = (
        observations.select(F.to_date("event_time").alias("day"))
        .distinct()
        .groupBy(_iso_dow(F.col("day")).alias("day_of_week"))
        .agg(F.count("*").alias("days"))
    )
    lows = observations.groupBy(_iso_dow(F.col("event_time")).alias("day_of_week")).agg(
        F.count("*").alias("citizens_seen"),
        F.sum((F.col("harmony_score") < threshold).cast("long")).alias("low_score_citizens"),
    )
    riots = (
        _riots(alerts)
        .groupBy(_iso_dow(F.col("event_time")).alias("day_of_week"))
        .agg(F.count("*").alias("riot_alerts"))
    )
    names = F.element_at(F.array(*[F.lit(n) for n in DAY_NAMES]), F.col("day_of_week"))
    return (
        days.join(lows, "day_of_week", "left")
        .join(riots, "day_of_week", "left")
        .fillna(0, ["citizens_seen", "low_score_citizens", "riot_alerts"])
        .select(
            F.col("day_of_week").cast("int"),
            names.alias("day_name"),
            (F.col("day_of_week") >= 6).alias("is_weekend"),
            F.col("days").cast("long"),
            F.col("citizens_seen").cast("long"),
            F.col("low_score_citizens").cast("long"),
            F.col("riot_alerts").cast("long"),
            (F.col("low_score_citizens") / F.col("days")).alias("low_score_citizens_per_day"),
            (F.col("riot_alerts") / F.col("days")).alias("riot_alerts_per_day"),
        )
        .orderBy("day_of_week")
    )


def by_hour(observations: DataFrame, alerts: DataFrame, threshold: float) -> DataFrame:
    """Unrest by hour of day (UTC), with the peak hours flagged."""
    lows = observations.groupBy(F.hour("event_time").alias("hour")).agg(
        F.count("*").alias("citizens_seen"),
        F.sum((F.col("harmony_score") < threshold).cast("long")).alias("low_score_citizens"),
    )
    riots = _riots(alerts).groupBy(F.hour("event_time").alias("hour")).agg(F.count("*").alias("riot_alerts"))
    joined = lows.join(riots, "hour", "left").fillna(0, ["riot_alerts"])
    ranked = joined.withColumn(
        "unrest_rank",
        F.row_number().over(
            _window_all().orderBy(F.col("low_score_citizens").desc(), F.col("riot_alerts").desc(), "hour")
        ),
    )
    return ranked.select(
        F.col("hour").cast("int"),
        F.col("citizens_seen").cast("long"),
        F.col("low_score_citizens").cast("long"),
        (F.col("low_score_citizens") / F.col("citizens_seen")).alias("low_score_share"),
        F.col("riot_alerts").cast("long"),
        F.col("unrest_rank").cast("int"),
        (F.col("unrest_rank") <= PEAK_HOURS).alias("is_peak"),
    ).orderBy("hour")


def _window_all() -> WindowSpec:
    """One window over the whole (small, aggregated) result, for ranks."""
    return Window.partitionBy(F.lit(1))


def zone_centres(spark: SparkSession) -> DataFrame:
    rows = [(z.name, z.centre[0], z.centre[1]) for z in CITY.zones]
    return spark.createDataFrame(rows, "zone string, centre_lat double, centre_lon double")


def by_zone(observations: DataFrame, alerts: DataFrame, threshold: float, centres: DataFrame) -> DataFrame:
    """The riskiest zones: riot episodes, low-score share and mean harmony, with each zone's centre."""
    stats = observations.groupBy("zone").agg(
        F.count("*").alias("citizens_seen"),
        F.sum((F.col("harmony_score") < threshold).cast("long")).alias("low_score_citizens"),
        F.avg("harmony_score").alias("avg_harmony_score"),
    )
    riots = _riots(alerts).groupBy("zone").agg(F.count("*").alias("riot_alerts"))
    joined = stats.join(riots, "zone", "left").fillna(0, ["riot_alerts"]).join(centres, "zone", "left")
    return joined.select(
        "zone",
        F.col("citizens_seen").cast("long"),
        F.col("low_score_citizens").cast("long"),
        (F.col("low_score_citizens") / F.col("citizens_seen")).alias("low_score_share"),
        "avg_harmony_score",
        F.col("riot_alerts").cast("long"),
        "centre_lat",
        "centre_lon",
        F.row_number()
        .over(_window_all().orderBy(F.col("riot_alerts").desc(), F.col("low_score_citizens").desc(), "zone"))
        .cast("int")
        .alias("risk_rank"),
    ).orderBy("risk_rank")


def words(reports: DataFrame, threshold: float) -> DataFrame:
    """Words most associated with low scores: lift = P(word | low citizen) / P(word | any citizen).

    A citizen observation "hears" every distinct word of its report; counts are citizen observations.
    """
    per_report = reports.select(
        F.array_distinct("words").alias("words"),
        F.size("citizens").cast("long").alias("n_all"),
        F.size(F.filter("citizens", lambda c: c["harmony_score"] < threshold)).cast("long").alias("n_low"),
    ).where(F.col("n_all") > 0)
    totals = per_report.agg(F.sum("n_all").alias("total_all"), F.sum("n_low").alias("total_low"))
    counts = (
        per_report.select(F.explode("words").alias("word"), "n_all", "n_low")
        .groupBy("word")
        .agg(F.sum("n_all").alias("citizens_hearing"), F.sum("n_low").alias("low_citizens_hearing"))
        .where(F.col("citizens_hearing") >= MIN_WORD_SUPPORT)
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
    return lifted.withColumn(
        "lift_rank", F.row_number().over(_window_all().orderBy(F.col("lift").desc(), "word")).cast("int")
    ).orderBy("lift_rank")
