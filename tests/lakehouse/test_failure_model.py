"""The engine-free definition of the failure features and the exported model."""

from __future__ import annotations

import math

import numpy as np

from lakehouse.failure_model import FEATURES, HOUR_MS, DroneTelemetry, FailureModel, slope


def test_slope_is_least_squares() -> None:
    xs = [1.0, 2.0, 3.0, 4.0]
    ys = [2.0, 4.1, 5.9, 8.0]
    assert math.isclose(slope(xs, ys), float(np.polyfit(xs, ys, 1)[0]))
    assert slope([5.0], [1.0]) == 0.0


def test_features_come_when_an_hour_completes_and_use_only_the_past() -> None:
    t = DroneTelemetry()
    assert t.add(0, 90.0, 40.0, -60.0, None) is None
    assert t.add(HOUR_MS - 1, 80.0, 50.0, -110.0, None) is None, "the same hour"
    closed = t.add(HOUR_MS, 10.0, 99.0, -120.0, None)  # opens hour 1, closes hour 0
    assert closed is not None
    hour, f = closed
    assert hour == 0 and set(f) == set(FEATURES)
    assert f["battery_level"] == 90.0 and f["temp_level"] == 45.0 and f["dropout_rate"] == 0.5
    assert f["battery_fade"] == 0.0
    assert f["service_unknown"] == 1.0 and f["hours_since_service"] == 0.0, "no service seen: unknown"
    assert t.add(HOUR_MS - 5, 0.0, 0.0, -1.0, None) is None, "late for a closed hour: ignored"
    closed = t.add(2 * HOUR_MS, 50.0, 40.0, -60.0, "maintenance")
    assert closed is not None
    hour, f = closed
    assert hour == 1 and f["battery_level"] == 50.0 and f["battery_fade"] == 40.0
    assert f["service_unknown"] == 1.0, "still unknown: not since the data began"
    assert f["battery_slope"] == -80.0
    closed = t.add(3 * HOUR_MS, 50.0, 40.0, -60.0, None)
    assert closed is not None
    hour, f = closed
    assert hour == 2 and f["hours_since_service"] == 0.0, "the maintenance hour starts a segment"
    assert f["service_unknown"] == 0.0 and f["battery_fade"] == 0.0
    closed = t.add(6 * HOUR_MS, 50.0, 40.0, -60.0, None)
    assert closed is not None
    assert closed[0] == 3 and closed[1]["hours_since_service"] == 1.0, "hours since the maintenance hour"


def test_a_history_stored_before_the_service_hour_reads_as_unknown() -> None:
    """A rules worker upgraded with state written by the version before: no service hour recorded."""
    old = {"closed": [[0, 90.0, 40.0, 10, 0]], "segment_start": 0, "segment_max": 90.0}
    t = DroneTelemetry([1, 80.0, 400.0, 10, 0, False], lambda: dict(old))
    closed = t.add(2 * HOUR_MS, 80.0, 40.0, -60.0, None)
    assert closed is not None and closed[1]["service_unknown"] == 1.0


def test_model_scores_like_a_scaled_logistic_regression() -> None:
    model = FailureModel(
        version=1,
        features=("a", "b"),
        mean=(1.0, 5.0),
        std=(2.0, 0.0),
        coefficients=(0.5, 100.0),
        intercept=-1.0,
        threshold=0.5,
    )
    expected = 1 / (1 + math.exp(-(-1.0 + 0.5 * (3.0 - 1.0) / 2.0)))
    assert math.isclose(model.score({"a": 3.0, "b": 123.0}), expected), "a zero std scales to 0"
    assert model.score({"a": -1e6, "b": 0.0}) == 0.0
