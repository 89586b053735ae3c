"""`harmony maintenance train` and `score`: a failure model learnt on the lake, with MLlib only.

Train: features and labels (``spark.failure_features``) from one consistent snapshot of raw.reports; a
time-based split (the last ``holdout_days`` are the test set; training rows end ``HORIZON_H`` hours before
it, so no training label looks into the test weeks); StandardScaler + LogisticRegression; the decision
threshold picked on the training rows (best F1), the baseline's (a battery-level rule) likewise; both
evaluated on the held-out rows: PR-AUC, precision and recall at the threshold, and the lead time (how
long before each warned failure its first warning came). The pipeline is saved with MLlib's own
persistence into the warehouse (``models/maintenance/v<N>``); the model card, with the model exported as
data for the stream, is appended to ``answers.maintenance_model``.

Score: the newest model on every drone's latest hour, into ``answers.drone_risk`` (one overwrite).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pyarrow as pa
from pyarrow import fs
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import LogisticRegression, LogisticRegressionModel
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.feature import StandardScaler, StandardScalerModel, VectorAssembler
from pyspark.ml.functions import vector_to_array
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse.catalog import load_catalog
from lakehouse.derive import arrow_schema
from lakehouse.failure_model import (
    BASELINE_FEATURE,
    FEATURES,
    HORIZON_H,
    HOUR_MS,
    DroneRisk,
    FailureModel,
    ModelCard,
)
from lakehouse.settings import Settings
from lakehouse.storage import s3_filesystem
from lakehouse.tables import DRONE_RISK, MAINTENANCE_MODEL, REPORTS, ensure_table, latest_model_card
from spark import failure_features
from spark.jobs import LakeUnavailable, read

MODELS_PREFIX = "models/maintenance"
THRESHOLDS = tuple(round(0.02 * i, 2) for i in range(1, 50))  # candidate decision thresholds
ALGORITHM = "StandardScaler + LogisticRegression (MLlib)"


class NotEnoughData(RuntimeError):
    """Too little history, or no failure on one side of the split: said plainly, nothing written."""


@dataclass(frozen=True)
class Scored:
    precision: float
    recall: float


def _at(rows: DataFrame, score: str, threshold: float, above: bool = True) -> Scored:
    hit = F.col(score) >= threshold if above else F.col(score) <= threshold
    r = rows.agg(
        F.sum((hit & (F.col("label") == 1)).cast("long")).alias("tp"),
        F.sum(hit.cast("long")).alias("flagged"),
        F.sum(F.col("label").cast("long")).alias("positives"),
    ).first()
    assert r is not None
    tp, flagged, positives = int(r["tp"] or 0), int(r["flagged"] or 0), int(r["positives"] or 0)
    return Scored(tp / flagged if flagged else 0.0, tp / positives if positives else 0.0)


def _best_threshold(rows: DataFrame, score: str, candidates: tuple[float, ...], above: bool = True) -> float:
    """The candidate with the best F1 on ``rows`` (ties: the first), in one pass over them."""
    aggs = []
    for i, t in enumerate(candidates):
        hit = F.col(score) >= t if above else F.col(score) <= t
        aggs += [
            F.sum((hit & (F.col("label") == 1)).cast("long")).alias(f"tp{i}"),
            F.sum(hit.cast("long")).alias(f"f{i}"),
        ]
    r = rows.agg(F.sum(F.col("label").cast("long")).alias("p"), *aggs).first()
    assert r is not None
    positives = int(r["p"] or 0)
    best, best_f1 = candidates[0], -1.0
    for i, t in enumerate(candidates):
        tp, flagged = int(r[f"tp{i}"] or 0), int(r[f"f{i}"] or 0)
        f1 = 2 * tp / (flagged + positives) if flagged + positives else 0.0
        if f1 > best_f1:
            best, best_f1 = t, f1
    return best


def _pr_auc(rows: DataFrame, score: str) -> float:
    evaluator = BinaryClassificationEvaluator(
        rawPredictionCol=score, labelCol="label", metricName="areaUnderPR"
    )
    return float(evaluator.evaluate(rows))


def _lead_times(test: DataFrame, holdout_start_ms: int) -> tuple[int, list[float]]:
    """Held-out failures (whole horizon inside the test weeks), and each warned one's lead time: failure −
    the first warning in the ``HORIZON_H`` hours before it (so the warned count is the list's length)."""
    horizon_ms = HORIZON_H * HOUR_MS
    fails = (
        test.where(F.col("fail_ms").isNotNull() & (F.col("fail_ms") - horizon_ms >= holdout_start_ms))
        .select("drone_id", F.col("fail_ms").alias("failure_ms"))
        .distinct()
    )
    warnings = test.where(F.col("warning")).select(
        F.col("drone_id").alias("w_drone"), F.col("end_ms").alias("w_ms")
    )
    warned = (
        fails.join(
            warnings,
            (fails.drone_id == warnings.w_drone)
            & (warnings.w_ms < fails.failure_ms)
            & (warnings.w_ms >= fails.failure_ms - horizon_ms),
        )
        .groupBy("drone_id", "failure_ms")
        .agg(((F.col("failure_ms") - F.min("w_ms")) / HOUR_MS).alias("lead_h"))
    )
    leads = sorted(float(r["lead_h"]) for r in warned.collect())
    return fails.count(), leads


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def export(model: PipelineModel, version: int, threshold: float) -> FailureModel:
    """The fitted pipeline as data for the stream (scaler statistics and coefficients)."""
    scaler = next(s for s in model.stages if isinstance(s, StandardScalerModel))
    lr = next(s for s in model.stages if isinstance(s, LogisticRegressionModel))
    return FailureModel(
        version=version,
        features=FEATURES,
        mean=tuple(float(v) for v in scaler.mean.toArray()),
        std=tuple(float(v) for v in scaler.std.toArray()),
        coefficients=tuple(float(v) for v in lr.coefficients.toArray()),
        intercept=float(lr.intercept),
        threshold=threshold,
    )


def pipeline() -> Pipeline:
    return Pipeline(
        stages=[
            VectorAssembler(inputCols=list(FEATURES), outputCol="raw_features"),
            StandardScaler(inputCol="raw_features", outputCol="features", withMean=True, withStd=True),
            LogisticRegression(featuresCol="features", labelCol="label", maxIter=200, regParam=0.001),
        ]
    )


def with_risk(model: PipelineModel, rows: DataFrame) -> DataFrame:
    """``rows`` with the model's failure probability as ``risk``."""
    return model.transform(rows).withColumn("risk", vector_to_array(F.col("probability"))[1])


def reports_snapshot(settings: Settings) -> dict[str, int | None]:
    """The snapshot of raw.reports to read (one consistent state, recorded on the model card)."""
    ident = REPORTS.identifier(settings)
    catalog = load_catalog(settings)
    if not catalog.table_exists(ident):
        raise LakeUnavailable(f"{ident} does not exist yet: run `harmony ingest` first")
    snap = catalog.load_table(ident).current_snapshot()
    if snap is None:
        raise LakeUnavailable(f"{ident} has no data yet: run `harmony ingest` first")
    return {ident: snap.snapshot_id}


def feature_rows(
    spark: SparkSession, settings: Settings, snapshots: dict[str, int | None], trends: bool = False
) -> DataFrame:
    reports = read(spark, REPORTS, settings, snapshots)
    return failure_features.features(failure_features.hourly(reports), trends)


def _model_uri(settings: Settings, version: int) -> str:
    return f"{settings.s3.bucket}/{MODELS_PREFIX}/v{version}"


def save_model(model: PipelineModel, settings: Settings, version: int) -> str:
    """MLlib's own format, written locally then copied into the warehouse (Spark has no S3 filesystem
    here: Iceberg brings its own S3 client, and hadoop-aws is not on the classpath)."""
    target = _model_uri(settings, version)
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / "model"
        model.write().overwrite().save(str(local))
        fs.copy_files(
            str(local),
            target,
            source_filesystem=fs.LocalFileSystem(),
            destination_filesystem=s3_filesystem(settings),
        )
    return f"s3://{target}"


def load_model(settings: Settings, version: int) -> PipelineModel:
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / "model"
        fs.copy_files(
            _model_uri(settings, version),
            str(local),
            source_filesystem=s3_filesystem(settings),
            destination_filesystem=fs.LocalFileSystem(),
        )
        return PipelineModel.load(str(local))


@dataclass(frozen=True)
class Evaluated:
    """A model fitted on the training weeks and its figures on the held-out ones."""

    model: PipelineModel
    data_start_ms: int
    data_end_ms: int
    holdout_start_ms: int
    train_rows: int
    test_rows: int
    train_failures: int
    test_failures: int
    pr_auc: float
    baseline_pr_auc: float
    threshold: float
    at_threshold: Scored
    baseline_threshold: float
    baseline: Scored
    held_out_failures: int
    leads_h: list[float]


def fit_and_evaluate(
    rows: DataFrame, holdout_days: float, report: Callable[[str], None] = lambda _m: None
) -> Evaluated:
    """Split ``rows`` (``failure_features.features``) by time, fit on the first part, evaluate on the last."""
    rows = rows.cache()
    span = rows.agg(F.min("last_ms").alias("lo"), F.max("last_ms").alias("hi")).first()
    assert span is not None
    if span["hi"] is None:
        raise NotEnoughData("raw.reports is empty")
    data_start_ms, data_end_ms = int(span["lo"]), int(span["hi"])
    holdout_start_ms = data_end_ms - int(holdout_days * 86_400_000)
    horizon_ms = HORIZON_H * HOUR_MS
    data = failure_features.labelled(rows, data_end_ms).cache()
    train_rows = data.where(F.col("end_ms") + horizon_ms <= holdout_start_ms).cache()
    test_rows = data.where(F.col("end_ms") > holdout_start_ms).cache()
    counts = {}
    for name, df in (("train", train_rows), ("test", test_rows)):
        r = df.agg(F.count(F.lit(1)).alias("n"), F.count("fail_ms").alias("f")).first()
        assert r is not None
        counts[name] = (int(r["n"]), int(r["f"]))
    (n_train, f_train), (n_test, f_test) = counts["train"], counts["test"]
    report(f"{n_train:,} training rows ({f_train} failures), {n_test:,} held-out rows ({f_test} failures)")
    if f_train == 0 or f_test == 0:
        raise NotEnoughData(
            f"a failure is needed on both sides of the split (training {f_train}, held out {f_test}): "
            "backfill more weeks or hold out fewer days"
        )
    model = pipeline().fit(train_rows)
    threshold = _best_threshold(with_risk(model, train_rows), "risk", THRESHOLDS)
    battery_candidates = tuple(float(b) for b in range(40, 101))
    baseline_threshold = _best_threshold(train_rows, BASELINE_FEATURE, battery_candidates, above=False)
    test_scored = (
        with_risk(model, test_rows)
        .withColumn("baseline_score", -F.col(BASELINE_FEATURE))
        .withColumn("warning", F.col("risk") >= threshold)
        .cache()
    )
    held_out_failures, leads = _lead_times(test_scored, holdout_start_ms)
    out = Evaluated(
        model=model,
        data_start_ms=data_start_ms,
        data_end_ms=data_end_ms,
        holdout_start_ms=holdout_start_ms,
        train_rows=n_train,
        test_rows=n_test,
        train_failures=f_train,
        test_failures=f_test,
        pr_auc=_pr_auc(test_scored, "risk"),
        baseline_pr_auc=_pr_auc(test_scored, "baseline_score"),
        threshold=threshold,
        at_threshold=_at(test_scored, "risk", threshold),
        baseline_threshold=baseline_threshold,
        baseline=_at(test_scored, BASELINE_FEATURE, baseline_threshold, above=False),
        held_out_failures=held_out_failures,
        leads_h=leads,
    )
    report(
        f"held out: PR-AUC {out.pr_auc:.3f} (baseline {out.baseline_pr_auc:.3f}); "
        f"{len(leads)}/{held_out_failures} failures warned"
    )
    for df in (rows, data, train_rows, test_rows, test_scored):
        df.unpersist()
    return out


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def train(
    spark: SparkSession,
    settings: Settings,
    holdout_days: float = 7.0,
    report: Callable[[str], None] = lambda _m: None,
) -> ModelCard:
    t0 = time.monotonic()
    snapshots = reports_snapshot(settings)
    ev = fit_and_evaluate(feature_rows(spark, settings, snapshots), holdout_days, report)
    catalog = load_catalog(settings)
    previous = latest_model_card(catalog, settings)
    version = (previous.version if previous else 0) + 1
    path = save_model(ev.model, settings, version)
    card = ModelCard(
        version=version,
        trained_at=datetime.now(UTC),
        algorithm=ALGORITHM,
        model_path=path,
        model_json=export(ev.model, version, ev.threshold).model_dump_json(),
        source_snapshots=orjson.dumps(snapshots).decode(),
        horizon_h=HORIZON_H,
        data_start=_utc(ev.data_start_ms),
        data_end=_utc(ev.data_end_ms),
        holdout_start=_utc(ev.holdout_start_ms),
        train_rows=ev.train_rows,
        test_rows=ev.test_rows,
        train_failures=ev.train_failures,
        test_failures=ev.test_failures,
        pr_auc=ev.pr_auc,
        baseline_pr_auc=ev.baseline_pr_auc,
        threshold=ev.threshold,
        precision=ev.at_threshold.precision,
        recall=ev.at_threshold.recall,
        baseline_threshold=ev.baseline_threshold,
        baseline_precision=ev.baseline.precision,
        baseline_recall=ev.baseline.recall,
        failures_warned=len(ev.leads_h),
        failures_evaluated=ev.held_out_failures,
        lead_time_mean_h=sum(ev.leads_h) / len(ev.leads_h) if ev.leads_h else None,
        lead_time_median_h=_median(ev.leads_h),
        train_seconds=time.monotonic() - t0,
    )
    table = ensure_table(catalog, MAINTENANCE_MODEL, settings)
    table.append(pa.Table.from_pylist([card.model_dump()], schema=arrow_schema(ModelCard)))
    return card


def score(spark: SparkSession, settings: Settings) -> list[DroneRisk]:
    """Every drone's risk at the end of its latest hour in the lake, with the newest model."""
    catalog = load_catalog(settings)
    card = latest_model_card(catalog, settings)
    if card is None:
        raise NotEnoughData("no model yet: run `harmony maintenance train` first")
    exported = FailureModel.model_validate_json(card.model_json)
    model = load_model(settings, card.version)
    rows = feature_rows(spark, settings, reports_snapshot(settings), trends=True)
    latest = rows.groupBy("drone_id").agg(F.max("hour").alias("hour"))
    current = with_risk(model, rows.join(latest, ["drone_id", "hour"]))
    risks = [
        DroneRisk(
            drone_id=r["drone_id"],
            zone=r["zone"],
            lat=r["lat"],
            lon=r["lon"],
            as_of=datetime.fromtimestamp((r["hour"] + 1) * HOUR_MS / 1000, UTC),
            risk=float(r["risk"]),
            at_risk=float(r["risk"]) >= exported.threshold,
            model_version=card.version,
            battery_trend=[round(v, 2) for v in r["battery_trend"]],
            temp_trend=[round(v, 2) for v in r["temp_trend"]],
            **{name: float(r[name]) for name in FEATURES},
        )
        for r in current.select(
            "drone_id", "hour", "zone", "lat", "lon", "risk", "battery_trend", "temp_trend", *FEATURES
        ).collect()
    ]
    risks.sort(key=lambda d: -d.risk)
    table = ensure_table(catalog, DRONE_RISK, settings)
    table.overwrite(pa.Table.from_pylist([d.model_dump() for d in risks], schema=arrow_schema(DroneRisk)))
    return risks
