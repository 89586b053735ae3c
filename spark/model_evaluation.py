"""How a failure model did on rows it never saw: pure functions over NumPy arrays, no Spark.

The held-out rows of a lake are few (one per drone and hour: a week of 48 drones is 8,064), so training
collects them once and evaluates here: PR-AUC computed exactly as MLlib's ``BinaryClassificationMetrics``
does (a differential test holds them equal), precision and recall at a threshold, calibration in the
large (expected over observed positives), lead times before failures, and 90 % bootstrap intervals that
resample *drones* (a drone's hours are not independent of each other).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

BOOTSTRAP_ROUNDS = 200
INTERVAL = (5.0, 95.0)  # percentiles: a 90 % interval


def pr_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the precision-recall curve, as MLlib computes it: one point per distinct score (the
    rows at or above it flagged), the curve starting at (recall 0, the first point's precision), the
    trapezoidal rule between points."""
    positives = float(labels.sum())
    if positives == 0 or len(scores) == 0:
        return 0.0
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order]
    last_of_score = np.r_[s[1:] != s[:-1], True]
    tp = np.cumsum(y)[last_of_score]
    flagged = np.arange(1, len(s) + 1)[last_of_score]
    precision = tp / flagged
    recall = tp / positives
    precision = np.r_[precision[0], precision]
    recall = np.r_[0.0, recall]
    return float(np.sum((recall[1:] - recall[:-1]) * (precision[1:] + precision[:-1]) / 2))


@dataclass(frozen=True)
class AtThreshold:
    precision: float
    recall: float
    flagged: int


def at_threshold(flags: np.ndarray, labels: np.ndarray) -> AtThreshold:
    """Precision and recall of the rows ``flags`` marks (0 where nothing is flagged / positive)."""
    tp = float(np.sum(flags & (labels == 1)))
    flagged = int(flags.sum())
    positives = float(labels.sum())
    return AtThreshold(tp / flagged if flagged else 0.0, tp / positives if positives else 0.0, flagged)


def budget_threshold(scores: np.ndarray, budget: float) -> float:
    """The score at or above which the ``budget`` highest-scoring rows are flagged (at least one):
    the operating point "flag as many drone-hours as are expected to fail"."""
    if len(scores) == 0:
        return 1.0
    k = int(min(max(round(budget), 1), len(scores)))
    return float(np.sort(scores)[::-1][k - 1])


def lead_times_h(
    drones: np.ndarray,
    end_ms: np.ndarray,
    warned: np.ndarray,
    failures: list[tuple[str, int]],
    horizon_ms: int,
) -> list[float]:
    """For each failure (drone, when), hours from its first warning in the ``horizon_ms`` before it to
    the failure; failures never warned in that time have none (so the warned count is the list's length)."""
    out = []
    for drone, fail_ms in failures:
        mine = (drones == drone) & warned & (end_ms < fail_ms) & (end_ms >= fail_ms - horizon_ms)
        if mine.any():
            out.append((fail_ms - int(end_ms[mine].min())) / 3_600_000)
    return sorted(out)


def bootstrap(
    groups: np.ndarray,
    figure: Callable[[np.ndarray], float],
    rounds: int = BOOTSTRAP_ROUNDS,
    seed: int = 0,
) -> tuple[float, float]:
    """A 90 % interval of ``figure(rows)`` over resamples of whole groups (drones) with replacement;
    ``figure`` gets the row indices of one resample."""
    rng = np.random.default_rng(seed)
    names, inverse = np.unique(groups, return_inverse=True)
    rows_of = [np.flatnonzero(inverse == g) for g in range(len(names))]
    values = []
    for _ in range(rounds):
        picked = rng.integers(0, len(names), len(names))
        values.append(figure(np.concatenate([rows_of[g] for g in picked])))
    low, high = np.percentile(values, INTERVAL)
    return float(low), float(high)
