"""Predictive-maintenance features and labels from the raw reports (DataFrame API only).

The definition lives in ``lakehouse.failure_model`` (the stream computes the same features one report
at a time); this is its Spark form. One row per drone and hour it reported in, with the features as of
the end of that hour, computed from that hour and the 23 before it only, and the label: does the drone
fail within ``HORIZON_H`` hours after that moment?
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from lakehouse.failure_model import DROPOUT_DBM, HORIZON_H, HOUR_MS, LEVEL_HOURS, TREND_HOURS
from lakehouse.schemas import DroneEvent


def _slope(x: str, y: str, window: object) -> Column:
    """Least-squares slope over the window; 0 where it holds a single hour (as the stream's)."""
    return F.coalesce(F.covar_pop(x, y).over(window) / F.var_pop(x).over(window), F.lit(0.0))  # type: ignore[arg-type]


def hourly(reports: DataFrame) -> DataFrame:
    """Per drone and UTC hour: peak battery, mean motor temperature, reports, dropouts, events, where."""
    ms = F.expr("unix_millis(event_time)")
    return (
        reports.select(
            "drone_id",
            "zone",
            F.col("position.lat").alias("lat"),
            F.col("position.lon").alias("lon"),
            ms.alias("ms"),
            F.floor(ms / HOUR_MS).alias("hour"),
            F.col("health.battery_pct").alias("battery"),
            F.col("health.motor_temp_c").alias("temp"),
            F.col("health.signal_dbm").alias("signal"),
            "event",
        )
        .groupBy("drone_id", "hour")
        .agg(
            F.max("battery").alias("bat_max"),
            F.avg("temp").alias("temp_mean"),
            F.count(F.lit(1)).alias("n"),
            F.sum((F.col("signal") < DROPOUT_DBM).cast("long")).alias("dropouts"),
            F.max(F.col("event").isNotNull().cast("int")).alias("has_event"),
            F.min(F.when(F.col("event") == DroneEvent.FAILURE.value, F.col("ms"))).alias("fail_ms"),
            F.max("ms").alias("last_ms"),
            F.max_by(F.struct("zone", "lat", "lon"), "ms").alias("where"),
        )
    )


def features(hours: DataFrame, trends: bool = False) -> DataFrame:
    """The features of ``lakehouse.failure_model.FEATURES`` at the end of every drone-hour; with
    ``trends``, also the last 24 hourly battery peaks and motor temperatures (for people to look at)."""
    by_drone = Window.partitionBy("drone_id").orderBy("hour")
    level = by_drone.rangeBetween(-(LEVEL_HOURS - 1), 0)
    trend = by_drone.rangeBetween(-(TREND_HOURS - 1), 0)
    segmented = hours.withColumn(
        "segment", F.sum("has_event").over(by_drone.rowsBetween(Window.unboundedPreceding, 0))
    )
    segment = Window.partitionBy("drone_id", "segment")
    segment_so_far = segment.orderBy("hour").rowsBetween(Window.unboundedPreceding, 0)
    extra = (
        [
            F.collect_list("bat_max").over(trend).alias("battery_trend"),
            F.collect_list("temp_mean").over(trend).alias("temp_trend"),
        ]
        if trends
        else []
    )
    return segmented.select(
        *extra,
        "drone_id",
        "hour",
        "fail_ms",
        "last_ms",
        F.col("where.zone").alias("zone"),
        F.col("where.lat").alias("lat"),
        F.col("where.lon").alias("lon"),
        F.avg("bat_max").over(level).alias("battery_level"),
        (F.max("bat_max").over(segment_so_far) - F.avg("bat_max").over(level)).alias("battery_fade"),
        _slope("hour", "bat_max", trend).alias("battery_slope"),
        F.avg("temp_mean").over(level).alias("temp_level"),
        _slope("hour", "temp_mean", trend).alias("temp_slope"),
        (F.sum("dropouts").over(trend) / F.sum("n").over(trend)).alias("dropout_rate"),
        # Known from the first failure or maintenance on (segment 1 and after), unknown before it.
        F.when(F.col("segment") > 0, F.col("hour") - F.min("hour").over(segment))
        .otherwise(0)
        .cast("double")
        .alias("hours_since_service"),
        (F.col("segment") == 0).cast("double").alias("service_unknown"),
    )


def labelled(rows: DataFrame, data_end_ms: int) -> DataFrame:
    """Features with the label, ``hours_to_failure`` and the prediction time ``end_ms``.

    The next failure after the end of the hour is the first failure of a later hour. Rows whose
    horizon runs past the data's end and see no failure are dropped: their label is unknown."""
    after = Window.partitionBy("drone_id").orderBy("hour").rowsBetween(1, Window.unboundedFollowing)
    end_ms = (F.col("hour") + 1) * HOUR_MS
    horizon_ms = HORIZON_H * HOUR_MS
    return (
        rows.withColumn("end_ms", end_ms)
        .withColumn("next_fail_ms", F.min("fail_ms").over(after))
        .withColumn("hours_to_failure", (F.col("next_fail_ms") - F.col("end_ms")) / HOUR_MS)
        .withColumn(
            "label",
            F.coalesce((F.col("next_fail_ms") - F.col("end_ms") <= horizon_ms).cast("double"), F.lit(0.0)),
        )
        .where((F.col("label") == 1.0) | (F.col("end_ms") + horizon_ms <= data_end_ms))
    )
