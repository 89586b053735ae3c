"""The held-out figures, engine-free: PR-AUC as MLlib computes it, thresholds at a budget, lead times,
intervals over drones (``spark.model_evaluation``)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from spark import model_evaluation as ev


def test_pr_auc_of_a_perfect_and_a_useless_ranking() -> None:
    labels = np.array([1, 1, 0, 0, 0])
    assert ev.pr_auc(np.array([0.9, 0.8, 0.3, 0.2, 0.1]), labels) == 1.0
    tied = ev.pr_auc(np.full(5, 0.5), labels)  # one point: everything flagged, precision 0.4
    assert np.isclose(tied, 0.4)
    assert ev.pr_auc(np.array([0.1, 0.2]), np.array([0, 0])) == 0.0, "no positive: nothing to find"


def test_pr_auc_by_hand() -> None:
    # Scores 0.9 (1), 0.8 (0), 0.7 (1): points (0, 1) → (0.5, 1) → (0.5, 0.5) → (1, 2/3).
    auc = ev.pr_auc(np.array([0.9, 0.8, 0.7]), np.array([1, 0, 1]))
    assert np.isclose(auc, 0.5 * 1.0 + 0.0 + 0.5 * (0.5 + 2 / 3) / 2)


def test_budget_threshold_flags_the_budget() -> None:
    scores = np.array([0.1, 0.9, 0.4, 0.7, 0.2])
    t = ev.budget_threshold(scores, 2.4)
    assert t == 0.7 and int((scores >= t).sum()) == 2
    assert ev.budget_threshold(scores, 0.2) == 0.9, "at least one"
    assert ev.budget_threshold(scores, 99) == 0.1, "at most all"


def test_at_threshold_and_lead_times() -> None:
    flags, labels = np.array([True, True, False, False]), np.array([1, 0, 1, 0])
    at = ev.at_threshold(flags, labels)
    assert (at.precision, at.recall, at.flagged) == (0.5, 0.5, 2)
    h = 3_600_000
    drones = np.array(["a", "a", "a", "b"], dtype=object)
    end = np.array([1 * h, 5 * h, 9 * h, 2 * h])
    warned = np.array([False, True, True, True])
    leads = ev.lead_times_h(drones, end, warned, [("a", 10 * h), ("b", 40 * h)], 24 * h)
    assert leads == [5.0], "a: first warning 5 h before; b: its warning is older than the horizon"


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_bootstrap_interval_holds_the_figure_of_a_constant(seed: int) -> None:
    groups = np.array(["a", "b", "c", "a", "b", "c"], dtype=object)
    values = np.array([1.0, 2.0, 3.0, 1.0, 2.0, 3.0])
    low, high = ev.bootstrap(groups, lambda i: float(values[i].mean()), rounds=100, seed=seed)
    assert 1.0 <= low <= 2.0 <= high <= 3.0
    same = ev.bootstrap(groups, lambda i: 7.0, rounds=10, seed=seed)
    assert same == (7.0, 7.0)
