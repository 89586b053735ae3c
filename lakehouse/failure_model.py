"""Predictive maintenance, engine-free: the features, the label, the exported model and its tables' rows.

Two engines compute the same features: Spark over the lake (``spark.failure_features``, to train and to
score the fleet) and the alerting processor over the stream, one report at a time (:class:`DroneTelemetry`
here). Both follow this definition, and a differential test holds them to it:

- a drone's reports are bucketed by UTC hour (``hour = event_ms // 3_600_000``); per hour: the highest
  battery level (its charged capacity), the mean motor temperature, the reports and the signal dropouts;
- a prediction is made at the end of every hour a drone reported in, from that hour and the 23 before it
  (nothing later: no feature can see the future);
- the drone's *segment* is the time since its last failure or maintenance event (or since it was first
  seen): its wear starts again there. The hours since service are known only once such an event has been
  seen: before it they are unknown (``service_unknown`` is 1 and ``hours_since_service`` 0 in the model's
  vector, null in the tables), never "since the data began".

The model travels as data (:class:`FailureModel`: a standard scaler, logistic-regression coefficients
and the Platt calibration fitted on days the regression did not see), so the stream scores without a
JVM, exactly as Spark's pipeline does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

HOUR_MS = 3_600_000
HORIZON_H = 24  # the label: the drone fails within this many hours after the prediction
LEVEL_HOURS = 6  # levels are means over the last 6 hours
TREND_HOURS = 24  # slopes and rates over the last 24 hours
DROPOUT_DBM = -100.0  # a report with a weaker signal than this counts as a dropout

FEATURES = (
    "battery_level",  # mean hourly peak battery, last 6 h
    "battery_fade",  # the segment's best hourly peak battery minus battery_level
    "battery_slope",  # least-squares slope of the hourly peak battery, last 24 h (points per hour)
    "temp_level",  # mean hourly motor temperature, last 6 h
    "temp_slope",  # its slope, last 24 h
    "dropout_rate",  # dropouts / reports, last 24 h
    "hours_since_service",  # hours since the last failure or maintenance; 0 while unknown
    "service_unknown",  # 1 until the drone's first failure or maintenance has been seen, then 0
)
BASELINE_FEATURE = "battery_level"  # the naive rule: ground a drone when its battery peak runs low


def slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of ys on xs; 0 for fewer than two distinct xs (as ``covar_pop/var_pop``)."""
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx


def sigmoid(x: float) -> float:
    if x < -700:
        return 0.0
    return 1.0 / (1.0 + math.exp(-x))


class FailureModel(BaseModel):
    """A trained model as data: ``p = sigmoid(a × m + b)`` with the regression's margin
    ``m = intercept + Σ coefficient × (x - mean) / std`` and the Platt calibration ``(a, b)``.

    The same arithmetic as Spark's ``StandardScaler(withMean, withStd)`` + ``LogisticRegression`` (a
    feature whose training std is 0 scales to 0), then the calibration. A model marked ``weak`` (too few
    failures behind its figures) is shown with that warning and raises no alert on the stream. Models
    exported before calibration read as uncalibrated (``(1, 0)``) and not weak."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int
    features: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    coefficients: tuple[float, ...]
    intercept: float
    threshold: Annotated[float, Field(ge=0, le=1)]
    horizon_h: int = HORIZON_H
    calibration: tuple[float, float] = (1.0, 0.0)
    weak: bool = False

    def margin(self, features: dict[str, float]) -> float:
        m = self.intercept
        for name, mu, sd, w in zip(self.features, self.mean, self.std, self.coefficients, strict=True):
            m += w * ((features[name] - mu) / sd if sd != 0 else 0.0)
        return m

    def score(self, features: dict[str, float]) -> float:
        a, b = self.calibration
        return sigmoid(a * self.margin(features) + b)


WEAK_BELOW_FAILURES = 20  # a split with fewer failures than this makes every figure of the card weak


class Evaluation(BaseModel):
    """What training learnt about a model from the lake, before it has a version: the split by time
    (trained and calibrated, held out), the held-out figures against the battery rule, with 90 % bootstrap
    intervals (drones resampled), and whether the figures are too thin to mean much (``weak``).

    Fields added after the first cards are optional: cards trained before them read as null."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    horizon_h: int
    data_start: datetime
    data_end: datetime
    holdout_start: datetime  # rows after this are the test set; training rows end H hours before it
    train_rows: int
    test_rows: int
    train_failures: int
    test_failures: int
    pr_auc: float
    baseline_pr_auc: float
    threshold: float
    precision: float
    recall: float
    baseline_threshold: float
    baseline_precision: float
    baseline_recall: float
    failures_warned: int  # of failures_evaluated, those with at least one warning in the H hours before them
    lead_time_mean_h: float | None
    lead_time_median_h: float | None
    # Held-out failures whose whole H hours before them lie in the test days: the ones a warning could be
    # counted for (failures_warned, lead times).
    failures_evaluated: int | None = None
    calibration_start: datetime | None = (
        None  # the Platt calibration's rows start here (fitted rows end H before)
    )
    calibration_rows: int | None = None
    calibration_failures: int | None = None
    expected_positives: float | None = None  # held-out drone-hours: the sum of the risks
    observed_positives: int | None = None  # held-out drone-hours whose drone failed within the horizon
    operating_point: str | None = None  # how the threshold was chosen, in words
    weak: bool | None = None
    assessment: str | None = None  # what the figures can be trusted for, in words
    intervals: str | None = None  # JSON: figure -> [low, high], 90 % bootstrap over drones

    @property
    def calibration_ratio(self) -> float | None:
        """Expected over observed failures on the held-out days (1: calibrated)."""
        if self.expected_positives is None or not self.observed_positives:
            return None
        return self.expected_positives / self.observed_positives


class ModelCard(Evaluation):
    """One trained version: how it was trained, how it did on the held-out days, and the model itself.

    A row of ``answers.maintenance_model``; the newest version is the one in service."""

    version: int
    trained_at: datetime
    algorithm: str
    model_path: str  # the MLlib pipeline (its own persistence format) in the warehouse
    model_json: str  # the FailureModel the stream scores with
    source_snapshots: str  # JSON: raw table → the snapshot id trained on
    train_seconds: float


class DroneRisk(BaseModel):
    """A drone's current failure risk, from its latest complete hour: a row of ``answers.drone_risk``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    drone_id: str
    zone: str | None
    lat: float | None
    lon: float | None
    as_of: datetime  # the end of the hour the features describe
    risk: float
    at_risk: bool
    model_version: int
    battery_level: float
    battery_fade: float
    battery_slope: float
    temp_level: float
    temp_slope: float
    dropout_rate: float
    hours_since_service: float | None  # unknown until the drone's first failure or maintenance is seen
    battery_trend: list[float]  # hourly battery peaks of the last 24 h, oldest first (the page's sparkline)
    temp_trend: list[float]  # hourly mean motor temperatures, likewise


class DroneTelemetry:
    """One drone's features over the stream, report by report, in JSON-able state (Quix state).

    The state is in two parts, so a report costs little: ``open`` (the current hour's aggregate, six
    numbers, changed by every report) and ``history`` (the last 24 closed hours and the segment, changed
    once an hour, read only then: ``load_history``). ``add`` returns the features as of the end of an hour
    once that hour is complete (the drone's first report of a later hour closes it), else None; then
    ``history`` is to be stored again. Reports for an hour already closed are too late to change a
    prediction already made and are ignored (the lake's features include them).
    """

    def __init__(
        self,
        open_hour: list[Any] | None = None,
        load_history: Callable[[], dict[str, Any] | None] | None = None,
    ) -> None:
        self.open: list[Any] | None = open_hour  # [hour, battery max, temp sum, reports, dropouts, event]
        self.history: dict[str, Any] | None = None  # set when an hour closes
        # Without a store, the history lives in this object (tests, a drone replayed in memory).
        self._load_history = load_history or (lambda: self.history)

    def add(
        self, event_ms: int, battery: float, temp: float, signal: float, event: str | None
    ) -> tuple[int, dict[str, float]] | None:
        hour = event_ms // HOUR_MS
        out = None
        current = self.open
        if current is not None and hour < current[0]:
            return None  # late for a closed hour
        if current is not None and hour > current[0]:
            out = self._close(current)
            current = None
        if current is None:
            current = self.open = [hour, battery, 0.0, 0, 0, False]
        current[1] = max(current[1], battery)
        current[2] += temp
        current[3] += 1
        current[4] += int(signal < DROPOUT_DBM)
        current[5] = current[5] or event is not None
        return out

    def _close(self, current: list[Any]) -> tuple[int, dict[str, float]]:
        hour, bat_max, temp_sum, n, dropouts, event = current
        st = self._load_history() or {
            "closed": [],  # [[hour, battery max, temp mean, reports, dropouts]] of the last 24 h
            "segment_start": None,  # hour the segment started
            "segment_max": None,  # best hourly battery peak of the segment so far
            "service_hour": None,  # hour of the last failure or maintenance, None before the first
        }
        if event or st["segment_start"] is None:
            st["segment_start"], st["segment_max"] = hour, bat_max
        else:
            st["segment_max"] = max(st["segment_max"], bat_max)
        if event:
            st["service_hour"] = hour
        closed = [c for c in st["closed"] if c[0] > hour - TREND_HOURS]
        closed.append([hour, bat_max, temp_sum / n, n, dropouts])
        st["closed"] = closed
        self.history = st
        # A history stored before the service hour was kept has none: unknown until the next event.
        return hour, features_of(closed, hour, st["segment_max"], st.get("service_hour"))


def features_of(
    closed: list[list[Any]], hour: int, segment_max: float, service_hour: int | None
) -> dict[str, float]:
    """The features at the end of ``hour`` from the hourly rows of the last 24 h (``DroneTelemetry``)."""
    recent = [c for c in closed if c[0] > hour - LEVEL_HOURS]
    trend = [c for c in closed if c[0] > hour - TREND_HOURS]
    battery_level = sum(c[1] for c in recent) / len(recent)
    xs = [float(c[0]) for c in trend]
    return {
        "battery_level": battery_level,
        "battery_fade": segment_max - battery_level,
        "battery_slope": slope(xs, [c[1] for c in trend]),
        "temp_level": sum(c[2] for c in recent) / len(recent),
        "temp_slope": slope(xs, [c[2] for c in trend]),
        "dropout_rate": sum(c[4] for c in trend) / sum(c[3] for c in trend),
        "hours_since_service": float(hour - service_hour) if service_hour is not None else 0.0,
        "service_unknown": 0.0 if service_hour is not None else 1.0,
    }
