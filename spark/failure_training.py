"""`harmony maintenance train` and `score`: a failure model learnt on the lake, with MLlib only.

Train: features and labels (``spark.failure_features``) from one consistent snapshot of raw.reports,
split by time: the training rows end ``HORIZON_H`` hours before the held-out last ``holdout_days`` begin
(so no training label looks into them). StandardScaler + LogisticRegression on the training rows; Platt
scaling of its margin (a one-feature MLlib LogisticRegression) fitted on the training rows scored *out
of fold* (three folds of drones, each scored by a regression fitted on the others), so risks are
probabilities on rows no regression saw, without giving up days of a short lake to a calibration split.
The operating point: flag as many drone-hours as the calibrated model expects to fail on those rows (the
sum of their risks), the battery rule held to the same budget, so the two are compared at equal numbers
of groundings. Held-out figures (``spark.model_evaluation``, on the collected rows): PR-AUC, precision
and recall at the threshold, expected over observed failures, lead times, 90 % bootstrap intervals over
drones; fewer than ``WEAK_BELOW_FAILURES`` failures in either part, or a model no better than the rule,
marks the model weak (the stream raises no alert from it). The pipeline is saved with MLlib's own
persistence into the warehouse (``models/<answers namespace>/maintenance/v<N>``); the model card, with
the model exported as data for the stream, is appended to ``answers.maintenance_model``.

Score: the newest model on every drone's latest hour, into ``answers.drone_risk`` (one overwrite).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
from pyarrow import fs
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import LogisticRegression, LogisticRegressionModel
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
    WEAK_BELOW_FAILURES,
    DroneRisk,
    Evaluation,
    FailureModel,
    ModelCard,
)
from lakehouse.settings import Settings
from lakehouse.storage import s3_filesystem
from lakehouse.tables import (
    DRONE_RISK,
    MAINTENANCE_MODEL,
    REPORTS,
    ensure_table,
    latest_model_card,
    models_folder,
)
from spark import failure_features
from spark import model_evaluation as evaluation
from spark.jobs import current_snapshot, read

ALGORITHM = "StandardScaler + LogisticRegression, Platt-calibrated (MLlib)"


class NotEnoughData(RuntimeError):
    """Too little history, or no failure in one of the splits: said plainly, nothing written."""


def _margin(model: PipelineModel, rows: DataFrame) -> DataFrame:
    """``rows`` with the regression's margin (log-odds before calibration) as ``margin``."""
    return model.transform(rows).withColumn("margin", vector_to_array(F.col("rawPrediction"))[1])


def with_risk(
    model: PipelineModel, rows: DataFrame, calibration: tuple[float, float] = (1.0, 0.0)
) -> DataFrame:
    """``rows`` with the calibrated failure probability as ``risk`` (``FailureModel.score``'s arithmetic)."""
    a, b = calibration
    return _margin(model, rows).withColumn(
        "risk", 1.0 / (1.0 + F.exp(-(F.lit(a) * F.col("margin") + F.lit(b))))
    )


def platt(scored: DataFrame) -> tuple[float, float]:
    """Platt scaling: a one-feature logistic regression of the label on the margin, fitted on rows
    scored by a model that did not train on them; ``(a, b)`` with ``p = sigmoid(a × margin + b)``."""
    margins = VectorAssembler(inputCols=["margin"], outputCol="margin_vector").transform(
        scored.select("margin", "label")
    )
    lr = LogisticRegression(featuresCol="margin_vector", labelCol="label", maxIter=100, regParam=0.0)
    fitted = lr.fit(margins)
    return float(fitted.coefficients[0]), float(fitted.intercept)


@dataclass(frozen=True)
class Collected:
    """One split's rows on the driver, for the figures: per drone-hour, in no particular order."""

    drone: np.ndarray
    end_ms: np.ndarray
    label: np.ndarray
    fail_ms: np.ndarray  # the failure reported in that hour, 0 if none
    margin: np.ndarray
    battery: np.ndarray

    def risk(self, calibration: tuple[float, float]) -> np.ndarray:
        a, b = calibration
        return 1.0 / (1.0 + np.exp(-(a * self.margin + b)))

    @classmethod
    def of(cls, scored: DataFrame) -> Collected:
        """The rows of ``scored`` (with a ``margin``) on the driver."""
        got = scored.select(
            "drone_id",
            "end_ms",
            "label",
            F.coalesce("fail_ms", F.lit(0)).alias("fail_ms"),
            "margin",
            BASELINE_FEATURE,
        ).collect()
        return cls(
            drone=np.array([r["drone_id"] for r in got], dtype=object),
            end_ms=np.array([r["end_ms"] for r in got], dtype=np.int64),
            label=np.array([r["label"] for r in got], dtype=np.int64),
            fail_ms=np.array([r["fail_ms"] for r in got], dtype=np.int64),
            margin=np.array([r["margin"] for r in got], dtype=np.float64),
            battery=np.array([r[BASELINE_FEATURE] for r in got], dtype=np.float64),
        )


def collect(model: PipelineModel, rows: DataFrame) -> Collected:
    return Collected.of(_margin(model, rows))


@dataclass(frozen=True)
class Evaluated:
    """A model fitted and calibrated on the first part, and its figures on the held-out one."""

    model: PipelineModel
    calibration: tuple[float, float]
    evaluation: Evaluation


def _failures(rows: DataFrame, after_ms: int, until_ms: int) -> list[tuple[str, int]]:
    """The failures reported in ``(after_ms, until_ms]``: (drone, when), from every drone-hour."""
    got = (
        rows.where(
            F.col("fail_ms").isNotNull() & (F.col("fail_ms") > after_ms) & (F.col("fail_ms") <= until_ms)
        )
        .select("drone_id", "fail_ms")
        .distinct()
        .collect()
    )
    return sorted((str(r["drone_id"]), int(r["fail_ms"])) for r in got)


OUT_OF_FOLD = 3  # folds of drones for the calibration rows


def _out_of_fold(rows: DataFrame) -> DataFrame:
    """The training rows with a margin from a model that did not see them: the drones in
    :data:`OUT_OF_FOLD` folds (sorted ids dealt in turn), each fold scored by a regression fitted on the
    others over the same days. Folds by drone, not by time: a lake's first day (every drone's service
    still unknown, its windows still filling) would otherwise be one fold's whole training set, and its
    standardised features, applied to later days, give margins on another scale than the model served."""
    drones = sorted(r["drone_id"] for r in rows.select("drone_id").distinct().collect())
    folds = {d: i % OUT_OF_FOLD for i, d in enumerate(drones)}
    fold_of = F.create_map(*[x for d, i in folds.items() for x in (F.lit(d), F.lit(i))])
    with_fold = rows.withColumn("fold", fold_of[F.col("drone_id")])
    scored = [
        _margin(pipeline().fit(with_fold.where(F.col("fold") != k)), with_fold.where(F.col("fold") == k))
        for k in range(OUT_OF_FOLD)
    ]
    out = scored[0]
    for more in scored[1:]:
        out = out.unionByName(more)
    return out.drop("fold")


def fit_and_evaluate(
    rows: DataFrame, holdout_days: float, report: Callable[[str], None] = lambda _m: None
) -> Evaluated:
    """Split ``rows`` (``failure_features.features``) by time: fit and calibrate on the first part,
    evaluate on the last ``holdout_days``."""
    rows = rows.cache()
    span = rows.agg(F.min("last_ms").alias("lo"), F.max("last_ms").alias("hi")).first()
    assert span is not None
    if span["hi"] is None:
        raise NotEnoughData("raw.reports is empty")
    data_start_ms, data_end_ms = int(span["lo"]), int(span["hi"])
    horizon_ms = HORIZON_H * HOUR_MS
    holdout_start_ms = data_end_ms - int(holdout_days * 86_400_000)
    data = failure_features.labelled(rows, data_end_ms).cache()
    train_rows = data.where(F.col("end_ms") + horizon_ms <= holdout_start_ms).cache()
    test_rows = data.where(F.col("end_ms") > holdout_start_ms).cache()
    n_train, n_test = train_rows.count(), test_rows.count()
    # Failures the training labels can see, and those of the held-out days.
    f_train = len(_failures(rows, data_start_ms - 1, holdout_start_ms))
    failures = _failures(rows, holdout_start_ms, data_end_ms)
    f_test = len(failures)
    report(f"{n_train:,} training rows ({f_train} failures), {n_test:,} held-out rows ({f_test} failures)")
    if f_train < 2 or f_test == 0:
        raise NotEnoughData(
            f"failures are needed on both sides of the split by time (training {f_train}, held out "
            f"{f_test}): backfill more days or hold out fewer"
        )
    out_of_fold = _out_of_fold(train_rows).cache()
    calibration = platt(out_of_fold)
    model = pipeline().fit(train_rows)
    cal, test = Collected.of(out_of_fold), collect(model, test_rows)
    cal_risk, test_risk = cal.risk(calibration), test.risk(calibration)
    budget = float(cal_risk.sum())
    threshold = evaluation.budget_threshold(cal_risk, budget)
    baseline_threshold = -evaluation.budget_threshold(-cal.battery, budget)
    warned = test_risk >= threshold
    leads = evaluation.lead_times_h(test.drone, test.end_ms, warned, failures, horizon_ms)
    flagged_rule = test.battery <= baseline_threshold
    model_at = evaluation.at_threshold(warned, test.label)
    rule_at = evaluation.at_threshold(flagged_rule, test.label)
    figures: dict[str, Callable[[np.ndarray], float]] = {
        "pr_auc": lambda i: evaluation.pr_auc(test_risk[i], test.label[i]),
        "baseline_pr_auc": lambda i: evaluation.pr_auc(-test.battery[i], test.label[i]),
        "precision": lambda i: evaluation.at_threshold(warned[i], test.label[i]).precision,
        "recall": lambda i: evaluation.at_threshold(warned[i], test.label[i]).recall,
        "baseline_precision": lambda i: evaluation.at_threshold(flagged_rule[i], test.label[i]).precision,
        "baseline_recall": lambda i: evaluation.at_threshold(flagged_rule[i], test.label[i]).recall,
        "calibration_ratio": lambda i: float(test_risk[i].sum() / max(test.label[i].sum(), 1)),
    }
    intervals = {name: evaluation.bootstrap(test.drone, f) for name, f in figures.items()}
    pr, rule_pr = evaluation.pr_auc(test_risk, test.label), evaluation.pr_auc(-test.battery, test.label)
    fewest = min((f_train, "training"), (f_test, "held-out"))
    weak = fewest[0] < WEAK_BELOW_FAILURES or pr <= rule_pr
    held = (data_end_ms - holdout_start_ms) / 86_400_000
    if fewest[0] < WEAK_BELOW_FAILURES:
        assessment = (
            f"Weak model: its {fewest[1]} days hold only {fewest[0]} failures (fewer than "
            f"{WEAK_BELOW_FAILURES}), so its figures are uncertain (see the intervals); the stream raises no "
            "maintenance alerts from it. More days of history make it trustworthy."
        )
    elif pr <= rule_pr:
        assessment = (
            f"Weak model: on the {held:g} held-out days it does no better than the battery rule (PR-AUC "
            f"{pr:.3f} against {rule_pr:.3f}); the stream raises no maintenance alerts from it."
        )
    else:
        assessment = (
            f"Trustworthy: {f_test} failures in the {held:g} held-out days, PR-AUC {pr:.3f} "
            f"({intervals['pr_auc'][0]:.3f}–{intervals['pr_auc'][1]:.3f}) against the battery rule's "
            f"{rule_pr:.3f} ({intervals['baseline_pr_auc'][0]:.3f}–{intervals['baseline_pr_auc'][1]:.3f})."
        )
    out = Evaluated(
        model=model,
        calibration=calibration,
        evaluation=Evaluation(
            horizon_h=HORIZON_H,
            data_start=_utc(data_start_ms),
            data_end=_utc(data_end_ms),
            holdout_start=_utc(holdout_start_ms),
            train_rows=n_train,
            test_rows=n_test,
            train_failures=f_train,
            test_failures=f_test,
            pr_auc=pr,
            baseline_pr_auc=rule_pr,
            threshold=threshold,
            precision=model_at.precision,
            recall=model_at.recall,
            baseline_threshold=baseline_threshold,
            baseline_precision=rule_at.precision,
            baseline_recall=rule_at.recall,
            failures_warned=len(leads),
            failures_evaluated=len(failures),
            lead_time_mean_h=sum(leads) / len(leads) if leads else None,
            lead_time_median_h=_median(leads),
            calibration_rows=len(cal.label),
            expected_positives=float(test_risk.sum()),
            observed_positives=int(test.label.sum()),
            operating_point=(
                f"ground as many drones as the model expects to fail: on the training days, scored out of "
                f"fold, it flagged {int((cal_risk >= threshold).sum()):,} of {len(cal.label):,} drone-hours "
                f"against {budget:,.0f} expected to fail; the battery rule is held to the same budget"
            ),
            weak=weak,
            assessment=assessment,
            intervals=orjson.dumps(
                {k: [round(lo, 4), round(hi, 4)] for k, (lo, hi) in intervals.items()}
            ).decode(),
        ),
    )
    report(
        f"held out: PR-AUC {pr:.3f} (baseline {rule_pr:.3f}); {len(leads)}/{len(failures)} failures warned; "
        f"expected {out.evaluation.expected_positives:,.0f} failing drone-hours, observed "
        f"{out.evaluation.observed_positives:,}"
    )
    for df in (rows, data, train_rows, test_rows, out_of_fold):
        df.unpersist()
    return out


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def export(
    model: PipelineModel, version: int, threshold: float, calibration: tuple[float, float], weak: bool
) -> FailureModel:
    """The fitted pipeline as data for the stream (scaler statistics, coefficients, calibration)."""
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
        calibration=calibration,
        weak=weak,
    )


def pipeline() -> Pipeline:
    return Pipeline(
        stages=[
            VectorAssembler(inputCols=list(FEATURES), outputCol="raw_features"),
            StandardScaler(inputCol="raw_features", outputCol="features", withMean=True, withStd=True),
            LogisticRegression(featuresCol="features", labelCol="label", maxIter=200, regParam=0.001),
        ]
    )


def reports_snapshot(settings: Settings) -> dict[str, int | None]:
    """The snapshot of raw.reports to read (one consistent state, recorded on the model card)."""
    return {REPORTS.identifier(settings): current_snapshot(load_catalog(settings), REPORTS, settings)}


def feature_rows(
    spark: SparkSession, settings: Settings, snapshots: dict[str, int | None], trends: bool = False
) -> DataFrame:
    reports = read(spark, REPORTS, settings, snapshots)
    return failure_features.features(failure_features.hourly(reports), trends)


def save_model(model: PipelineModel, settings: Settings, version: int) -> str:
    """MLlib's own format, written locally then copied into the warehouse (Spark has no S3 filesystem
    here: Iceberg brings its own S3 client, and hadoop-aws is not on the classpath)."""
    target = f"{models_folder(settings)}/v{version}"
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


def load_model(settings: Settings, card: ModelCard) -> PipelineModel:
    """The pipeline the card was saved with, from where the card says (``model_path``)."""
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / "model"
        fs.copy_files(
            card.model_path.removeprefix("s3://"),
            str(local),
            source_filesystem=s3_filesystem(settings),
            destination_filesystem=fs.LocalFileSystem(),
        )
        return PipelineModel.load(str(local))


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
    figures = ev.evaluation
    exported = export(ev.model, version, figures.threshold, ev.calibration, bool(figures.weak))
    card = ModelCard(
        **figures.model_dump(),
        version=version,
        trained_at=datetime.now(UTC),
        algorithm=ALGORITHM,
        model_path=path,
        model_json=exported.model_dump_json(),
        source_snapshots=orjson.dumps(snapshots).decode(),
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
    model = load_model(settings, card)
    rows = feature_rows(spark, settings, reports_snapshot(settings), trends=True)
    latest = rows.groupBy("drone_id").agg(F.max("hour").alias("hour"))
    current = with_risk(model, rows.join(latest, ["drone_id", "hour"]), exported.calibration)
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
            battery_level=float(r["battery_level"]),
            battery_fade=float(r["battery_fade"]),
            battery_slope=float(r["battery_slope"]),
            temp_level=float(r["temp_level"]),
            temp_slope=float(r["temp_slope"]),
            dropout_rate=float(r["dropout_rate"]),
            hours_since_service=None if r["service_unknown"] else float(r["hours_since_service"]),
        )
        for r in current.select(
            "drone_id", "hour", "zone", "lat", "lon", "risk", "battery_trend", "temp_trend", *FEATURES
        ).collect()
    ]
    risks.sort(key=lambda d: -d.risk)
    table = ensure_table(catalog, DRONE_RISK, settings)
    table.overwrite(pa.Table.from_pylist([d.model_dump() for d in risks], schema=arrow_schema(DroneRisk)))
    return risks
