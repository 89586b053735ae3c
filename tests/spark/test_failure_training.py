"""Predictive maintenance on the fleet lake (``testkit/seeded.py``): the model against the baseline on the
held-out weeks, features that cannot see the future, Spark and the stream agreeing, the saved pipeline,
reproducible training and the fleet's risk table."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, timedelta

import numpy as np
import orjson
import pytest
from pyarrow import fs
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse.catalog import load_catalog
from lakehouse.failure_model import FEATURES, HOUR_MS, DroneTelemetry, FailureModel
from lakehouse.storage import s3_filesystem
from lakehouse.tables import DRONE_RISK, latest_model_card, models_folder
from spark import failure_features, model_evaluation
from spark.failure_training import (
    export,
    feature_rows,
    fit_and_evaluate,
    load_model,
    reports_snapshot,
    with_risk,
)
from spark.session import session
from testkit.lakes import Lake
from testkit.seeded import HOLDOUT_DAYS

MARGIN = 0.05  # the model's PR-AUC must beat the battery rule's by at least this, on the held-out weeks


@pytest.fixture(scope="module")
def spark(fleet_lake: Lake) -> Iterator[SparkSession]:
    s = session(fleet_lake.settings, "local[2]", "test-failure-training")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def reports(spark: SparkSession, fleet_lake: Lake) -> DataFrame:
    ident = next(iter(reports_snapshot(fleet_lake.settings)))
    return spark.read.table(f"{fleet_lake.settings.catalog.name}.{ident}")


def test_model_beats_the_battery_rule_on_held_out_weeks(fleet_lake: Lake) -> None:
    card = latest_model_card(load_catalog(fleet_lake.settings), fleet_lake.settings)
    assert card is not None and card.version == 1
    assert card.test_failures >= 20 and card.train_failures >= 40, "enough failures on both sides"
    assert card.pr_auc > card.baseline_pr_auc + MARGIN, (card.pr_auc, card.baseline_pr_auc)
    assert card.recall > 0.5 and card.precision > 0.5
    assert card.failures_warned > 0 and card.lead_time_median_h is not None
    assert card.failures_evaluated is not None
    assert card.failures_warned <= card.failures_evaluated <= card.test_failures
    assert 0 < card.lead_time_median_h <= card.horizon_h
    held_out = (card.data_end - card.holdout_start).total_seconds() / 86_400
    assert math.isclose(held_out, HOLDOUT_DAYS, abs_tol=1e-3), "the last weeks, by time"
    # One folder of models per lane: another lane's v1 (the demo's, in the same session) never lands here.
    assert card.model_path == f"s3://{models_folder(fleet_lake.settings)}/v1"
    assert fleet_lake.settings.catalog.answers_namespace in card.model_path
    files = s3_filesystem(fleet_lake.settings).get_file_info(
        fs.FileSelector(f"{models_folder(fleet_lake.settings)}/v1", recursive=True)
    )
    assert any(f.path.endswith("metadata/part-00000") for f in files), "MLlib's own format in the warehouse"


def test_the_held_out_pr_auc_is_mllibs(spark: SparkSession) -> None:
    """``spark.model_evaluation.pr_auc`` (on the driver, for the bootstrap) against MLlib's evaluator on
    the exact curve (``numBins=0``), with ties and without."""
    from pyspark.ml.evaluation import BinaryClassificationEvaluator

    rng = np.random.default_rng(7)
    for scores in (rng.random(3000), np.round(rng.random(3000), 2)):
        labels = (rng.random(3000) < scores * 0.6).astype(np.int64)
        df = spark.createDataFrame(
            [(float(x), float(y)) for x, y in zip(scores, labels, strict=True)], ["score", "label"]
        )
        mllib = BinaryClassificationEvaluator(
            rawPredictionCol="score", labelCol="label", metricName="areaUnderPR", numBins=0
        ).evaluate(df)
        assert math.isclose(model_evaluation.pr_auc(scores, labels), mllib, rel_tol=1e-9)


def test_risks_are_calibrated_and_the_threshold_is_the_stated_operating_point(fleet_lake: Lake) -> None:
    """On the held-out weeks the expected failing drone-hours (the sum of the calibrated risks) are within
    a factor of two of those observed, and at the same number of groundings the model is at least as
    precise as the battery rule; enough failures everywhere: not weak."""
    card = latest_model_card(load_catalog(fleet_lake.settings), fleet_lake.settings)
    assert card is not None and card.calibration_ratio is not None
    assert 0.5 <= card.calibration_ratio <= 2.0, card.calibration_ratio
    assert card.precision >= card.baseline_precision, (card.precision, card.baseline_precision)
    assert card.weak is False and card.assessment and card.assessment.startswith("Trustworthy")
    assert card.calibration_rows == card.train_rows, "every training row scored out of fold"
    intervals = orjson.loads(card.intervals or "{}")
    low, high = intervals["pr_auc"]
    assert low <= card.pr_auc <= high, "the interval holds the figure"
    assert FailureModel.model_validate_json(card.model_json).calibration != (1.0, 0.0)


def test_features_cannot_see_the_future(spark: SparkSession, reports: DataFrame) -> None:
    """Hiding every report after a moment changes no feature of a prediction made up to that moment."""
    span = reports.agg(F.min("event_time"), F.max("event_time")).first()
    assert span is not None
    cut = span[0] + (span[1] - span[0]) / 2
    cut_ms = int(cut.timestamp() * 1000)
    full = failure_features.features(failure_features.hourly(reports))
    hidden = failure_features.features(failure_features.hourly(reports.where(F.col("event_time") < cut)))
    known = ((F.col("hour") + 1) * HOUR_MS) <= cut_ms
    a = {(r["drone_id"], r["hour"]): r for r in full.where(known).collect()}
    b = {(r["drone_id"], r["hour"]): r for r in hidden.where(known).collect()}
    assert len(a) > 1000 and a.keys() == b.keys()
    for key, row in a.items():
        for name in FEATURES:
            assert math.isclose(row[name], b[key][name], rel_tol=1e-9, abs_tol=1e-9), (key, name)


def test_spark_and_the_stream_agree(spark: SparkSession, reports: DataFrame, fleet_lake: Lake) -> None:
    """The stream's features (``DroneTelemetry``, report by report) and its scorer (the model exported as
    data) against Spark's features and the MLlib pipeline loaded back from the warehouse."""
    card = latest_model_card(load_catalog(fleet_lake.settings), fleet_lake.settings)
    assert card is not None
    exported = FailureModel.model_validate_json(card.model_json)
    pipeline = load_model(fleet_lake.settings, card)
    drones = ["drone-0003", "drone-0017", "drone-0031"]
    sample = reports.where(F.col("drone_id").isin(drones))
    rows = with_risk(
        pipeline, failure_features.features(failure_features.hourly(sample)), exported.calibration
    )
    spark_rows = {(r["drone_id"], r["hour"]): r for r in rows.collect()}
    stream: dict[tuple[str, int], dict[str, float]] = {}
    ordered = sample.select(
        "drone_id", F.expr("unix_millis(event_time)").alias("ms"), "health", "event"
    ).orderBy("drone_id", "ms")
    telemetry: dict[str, DroneTelemetry] = {}
    for r in ordered.toLocalIterator():
        h = r["health"]
        out = telemetry.setdefault(r["drone_id"], DroneTelemetry()).add(
            r["ms"], h["battery_pct"], h["motor_temp_c"], h["signal_dbm"], r["event"]
        )
        if out is not None:
            stream[(r["drone_id"], out[0])] = out[1]
    assert len(stream) > 3 * 24 * 20 and set(stream) <= set(spark_rows)
    assert len(spark_rows) - len(stream) == len(drones), "all but each drone's last (open) hour"
    for key, features in stream.items():
        row = spark_rows[key]
        for name in FEATURES:
            assert math.isclose(features[name], row[name], rel_tol=1e-9, abs_tol=1e-9), (key, name)
        assert math.isclose(exported.score(features), row["risk"], rel_tol=1e-9, abs_tol=1e-12), key


def test_training_is_reproducible(spark: SparkSession, fleet_lake: Lake) -> None:
    """The same snapshot trains the same model as `harmony maintenance train` did."""
    card = latest_model_card(load_catalog(fleet_lake.settings), fleet_lake.settings)
    assert card is not None
    snapshots = reports_snapshot(fleet_lake.settings)
    assert card.source_snapshots == orjson.dumps(snapshots).decode(), "nothing landed since"
    again = fit_and_evaluate(feature_rows(spark, fleet_lake.settings, snapshots), HOLDOUT_DAYS)
    # Equal up to float summation order (Spark's partial aggregates meet in any order).
    figures = again.evaluation
    a, b = (
        export(again.model, card.version, figures.threshold, again.calibration, bool(figures.weak)),
        FailureModel.model_validate_json(card.model_json),
    )
    assert a.features == b.features and a.weak == b.weak
    assert math.isclose(a.threshold, b.threshold, rel_tol=1e-6)
    for x, y in zip(
        (*a.mean, *a.std, *a.coefficients, a.intercept, *a.calibration),
        (*b.mean, *b.std, *b.coefficients, b.intercept, *b.calibration),
        strict=True,
    ):
        assert math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-9), (x, y)
    assert math.isclose(figures.pr_auc, card.pr_auc, rel_tol=1e-3)  # near-tied scores may swap places
    assert math.isclose(figures.baseline_pr_auc, card.baseline_pr_auc, rel_tol=1e-3)


def test_the_fleet_is_scored(fleet_lake: Lake) -> None:
    settings = fleet_lake.settings
    card = latest_model_card(load_catalog(settings), settings)
    assert card is not None
    rows = load_catalog(settings).load_table(DRONE_RISK.identifier(settings)).scan().to_arrow().to_pylist()
    assert len(rows) == 40 and len({r["drone_id"] for r in rows}) == 40
    for r in rows:
        assert 0.0 <= r["risk"] <= 1.0 and r["model_version"] == card.version
        assert r["at_risk"] == (r["risk"] >= card.threshold)
        assert r["zone"] and r["as_of"] <= card.data_end.replace(
            minute=0, second=0, microsecond=0
        ).astimezone(UTC) + timedelta(hours=1)
