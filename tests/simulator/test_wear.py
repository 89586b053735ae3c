"""Drone wear: failures and maintenances in the stream agree with the ground truth, are reproducible for a
seed whatever the batch boundaries, and worn drones show it in their telemetry before they fail."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import orjson

from simulator.config import SimulatorConfig
from simulator.episodes import GroundTruth, read_ground_truth
from simulator.generator import ReportGenerator
from simulator.wear import Wear

START = datetime(2026, 9, 1, tzinfo=UTC)
CONFIG = SimulatorConfig(seed=11, drones=12, citizens=500, report_interval_s=300.0, riots_per_day=0)


def _reports(
    config: SimulatorConfig, days: float, truth: GroundTruth | None = None
) -> list[dict[str, object]]:
    gen = ReportGenerator(config, truth)
    count = int(days * 86_400 / config.report_interval_s * config.drones)
    return [orjson.loads(v) for b in gen.backfill(START, count) for v in b.values]


def test_every_event_in_the_stream_is_in_the_ground_truth_and_back(tmp_path: Path) -> None:
    truth = GroundTruth(tmp_path / "truth.jsonl")
    reports = _reports(CONFIG, 30, truth)
    flagged = [
        (r["drone_id"], r["event"], datetime.fromisoformat(str(r["event_time"])))
        for r in reports
        if r["event"]
    ]
    events = read_ground_truth(tmp_path / "truth.jsonl")
    assert {e["kind"] for e in events} == {"failure", "maintenance"}, "30 days of 12 drones: both kinds"
    assert {e["cause"] for e in events if e["kind"] == "failure"} <= {"wear", "sudden"}
    assert len(flagged) == len(events)
    interval = CONFIG.report_interval_s
    for (drone, kind, reported), e in zip(
        sorted(flagged, key=lambda f: (f[0], f[2])),
        sorted(events, key=lambda e: (e["drone_id"], e["time"])),
        strict=True,
    ):
        happened = datetime.fromisoformat(str(e["time"]))
        assert (drone, kind) == (e["drone_id"], e["kind"])
        assert 0 <= (reported - happened).total_seconds() <= interval, "flagged on the first report after it"


def test_events_do_not_depend_on_batch_boundaries() -> None:
    """Live mode asks the wear process in small, irregular batches; a backfill in large ones."""
    drones = np.arange(4)
    times = np.arange(0, 20 * 86_400, 600.0) + START.timestamp()
    whole, pieces = Wear(CONFIG, 4), Wear(CONFIG, 4)
    all_t, all_d = np.repeat(times, 4), np.tile(drones, len(times))
    wear_a, events_a = whole.observe(all_d, all_t)
    cuts = np.sort(np.random.default_rng(1).choice(len(all_t), 50, replace=False))
    parts = [
        pieces.observe(all_d[a:b], all_t[a:b]) for a, b in zip([0, *cuts], [*cuts, len(all_t)], strict=True)
    ]
    assert np.array_equal(wear_a, np.concatenate([p[0] for p in parts]))
    assert np.array_equal(events_a.cause, np.concatenate([p[1].cause for p in parts]))
    assert (events_a.cause >= 0).sum() > 0


def test_worn_drones_show_it_before_a_wear_failure(tmp_path: Path) -> None:
    truth = GroundTruth(tmp_path / "truth.jsonl")
    reports = _reports(CONFIG, 30, truth)
    by_drone: dict[str, list[dict[str, object]]] = defaultdict(list)
    for r in reports:
        by_drone[str(r["drone_id"])].append(r)
    worn, fresh = [], []
    for e in read_ground_truth(tmp_path / "truth.jsonl"):
        if e["cause"] != "wear":
            continue
        at = datetime.fromisoformat(str(e["time"])).timestamp()
        for r in by_drone[str(e["drone_id"])]:
            t = datetime.fromisoformat(str(r["event_time"])).timestamp()
            health = r["health"]
            assert isinstance(health, dict)
            if at - 6 * 3600 <= t < at:
                worn.append((health["battery_pct"], health["motor_temp_c"]))
            elif at < t <= at + 6 * 3600:
                fresh.append((health["battery_pct"], health["motor_temp_c"]))
    assert len(worn) > 100 and len(fresh) > 100
    worn_a: np.ndarray = np.array(worn)
    fresh_a: np.ndarray = np.array(fresh)
    assert worn_a[:, 0].mean() < fresh_a[:, 0].mean() - 10, "the battery holds less charge before a failure"
    assert worn_a[:, 1].mean() > fresh_a[:, 1].mean() + 10, "the motor runs hotter before a failure"
