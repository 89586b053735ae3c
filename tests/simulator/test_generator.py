"""The simulator's output: deterministic, valid against the contract, and shaped by its rhythms."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from lakehouse.codec import decode, encode
from lakehouse.derive import arrow_schema
from lakehouse.schemas import DroneReport
from lakehouse.settings import RuleSettings
from simulator.config import SimulatorConfig
from simulator.episodes import GroundTruth, read_ground_truth
from simulator.generator import InverseCdf, ReportGenerator

START = datetime(2026, 9, 7, tzinfo=UTC)  # a Monday
RULES = RuleSettings()


def all_values(
    config: SimulatorConfig, count: int, start: datetime = START, truth: GroundTruth | None = None
) -> list[bytes]:
    gen = ReportGenerator(config, truth)
    return [v for batch in gen.backfill(start, count) for v in batch.values]


def test_same_seed_same_bytes(small_config: SimulatorConfig) -> None:
    assert all_values(small_config, 3000) == all_values(small_config, 3000)


def test_other_seed_other_bytes(small_config: SimulatorConfig) -> None:
    other = small_config.model_copy(update={"seed": 8})
    assert all_values(small_config, 200) != all_values(other, 200)


def test_every_report_validates_and_round_trips_json_and_arrow(small_config: SimulatorConfig) -> None:
    values = all_values(small_config, 2000)
    reports = [decode(DroneReport, v) for v in values]
    assert len({r.report_id for r in reports}) == len(reports)
    for value, report in zip(values, reports, strict=True):
        assert encode(report) == value, "the simulator writes exactly the contract's wire format"
    table = pa.Table.from_pylist([r.model_dump() for r in reports], schema=arrow_schema(DroneReport))
    assert [DroneReport.model_validate(row) for row in table.to_pylist()] == reports


def test_zones_positions_and_clock_agree(small_config: SimulatorConfig) -> None:
    from lakehouse.city import CITY

    reports = [decode(DroneReport, v) for v in all_values(small_config, 500)]
    step = timedelta(seconds=small_config.report_interval_s / small_config.drones)
    for n, r in enumerate(reports):
        assert CITY.zone_at(r.position.lat, r.position.lon).name == r.zone
        assert r.event_time == START + n * step
        assert r.drone_id == f"drone-{n % small_config.drones:04d}"


def test_scores_agree_with_words(small_config: SimulatorConfig) -> None:
    """Low scorers speak the unrest vocabulary: the drone scores what it hears."""
    from simulator.world import UNREST_WORDS

    config = small_config.model_copy(update={"base_agitation": 0.05, "riots_per_day": 0})
    lows: list[float] = []
    highs: list[float] = []
    for v in all_values(config, 3000):
        r = decode(DroneReport, v)
        if len(r.citizens) == 1:
            share = sum(w in UNREST_WORDS for w in r.words) / max(len(r.words), 1)
            (lows if r.citizens[0].harmony_score < RULES.low_harmony_threshold else highs).append(share)
    assert lows and highs
    assert sum(lows) / len(lows) > 0.5 > 0.05 > sum(highs) / len(highs)


def low_per_day(config: SimulatorConfig, days: int) -> dict[datetime, int]:
    count = int(days * 86_400 / config.report_interval_s * config.drones)
    per_day: dict[datetime, int] = defaultdict(int)
    for v in all_values(config, count):
        r = orjson.loads(v)
        low = sum(c["harmony_score"] < RULES.low_harmony_threshold for c in r["citizens"])
        per_day[
            datetime.fromisoformat(r["event_time"]).replace(hour=0, minute=0, second=0, microsecond=0)
        ] += low
    return per_day


def test_weekend_to_weekday_ratio_follows_the_setting() -> None:
    config = SimulatorConfig(
        seed=3,
        drones=12,
        citizens=4000,
        report_interval_s=60.0,
        base_agitation=0.01,
        riots_per_day=0,
        weekend_multiplier=1.8,
    )
    per_day = low_per_day(config, 14)
    weekend = [n for d, n in per_day.items() if d.weekday() >= 5]
    weekday = [n for d, n in per_day.items() if d.weekday() < 5]
    assert len(weekend) == 4 and len(weekday) == 10
    ratio = (sum(weekend) / len(weekend)) / (sum(weekday) / len(weekday))
    assert abs(ratio - 1.8) < 0.15, ratio


def test_daily_rhythm_peaks_in_the_evening() -> None:
    config = SimulatorConfig(
        seed=4, drones=12, citizens=4000, report_interval_s=60.0, base_agitation=0.01, riots_per_day=0
    )
    by_hour: dict[int, int] = defaultdict(int)
    for v in all_values(config, int(7 * 86_400 / 60 * 12)):
        r = orjson.loads(v)
        hour = int(r["event_time"][11:13])
        by_hour[hour] += sum(c["harmony_score"] < RULES.low_harmony_threshold for c in r["citizens"])
    assert by_hour[21] > 3 * by_hour[4]


def test_injected_episodes_are_in_ground_truth_and_in_the_messages(
    tmp_path: Path, small_config: SimulatorConfig
) -> None:
    # Two drones per zone, the default cadence: the density the riot rule is tuned for.
    config = small_config.model_copy(update={"riots_per_day": 6.0, "drones": 32, "report_interval_s": 10.0})
    truth = GroundTruth(tmp_path / "truth.jsonl")
    count = int(86_400 / config.report_interval_s * config.drones)
    reports = [orjson.loads(v) for v in all_values(config, count, truth=truth)]
    episodes = read_ground_truth(tmp_path / "truth.jsonl", "riot")
    assert len(episodes) >= 3 and len(episodes) == len(truth.episode_ids)
    window = timedelta(minutes=RULES.riot_window_minutes)
    for e in episodes:
        start, end = datetime.fromisoformat(str(e["start"])), datetime.fromisoformat(str(e["end"]))
        rioters = {str(r) for r in e["rioters"]}  # type: ignore[attr-defined]
        seen = {
            c["citizen_id"]
            for r in reports
            if r["zone"] == e["zone"]
            and start <= datetime.fromisoformat(r["event_time"]) < min(end, start + window)
            for c in r["citizens"]
            if c["citizen_id"] in rioters and c["harmony_score"] < RULES.low_harmony_threshold
        }
        assert len(seen) >= RULES.riot_min_citizens, (e["episode_id"], len(seen))


def test_calm_periods_stay_below_the_riot_rule(small_config: SimulatorConfig) -> None:
    """Without episodes, no zone ever has K low-score citizens within the riot window."""
    config = small_config.model_copy(update={"riots_per_day": 0.0, "report_interval_s": 10.0})
    window = timedelta(minutes=RULES.riot_window_minutes)
    lows: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for v in all_values(config, int(86_400 / 10 * config.drones), start=START + timedelta(days=5)):
        r = orjson.loads(v)
        t = datetime.fromisoformat(r["event_time"])
        lows[r["zone"]].extend(
            (t, c["citizen_id"]) for c in r["citizens"] if c["harmony_score"] < RULES.low_harmony_threshold
        )
    worst = 0
    for events in lows.values():
        for i, (t, _) in enumerate(events):
            distinct = {cid for u, cid in events[i:] if u < t + window}
            worst = max(worst, len(distinct))
    assert 0 < worst < RULES.riot_min_citizens


@settings(max_examples=200, deadline=None)
@given(
    weights=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=40).filter(lambda w: sum(w) > 0),
    xs=st.lists(st.floats(0.0, 1.0, exclude_max=True), min_size=1, max_size=50),
    bins=st.sampled_from([1, 2, 64, 256]),
)
def test_the_guide_table_finds_what_searchsorted_finds(
    weights: list[float], xs: list[float], bins: int
) -> None:
    cdf = np.cumsum(weights) / sum(weights)
    cdf[-1] = 1.0
    cdf = np.concatenate([cdf, 1 + cdf])  # two moods, as the generator stacks them
    # the draws, the CDF's own steps and the bins' edges, where an off-by-one would show
    x = np.array(xs + [c for c in cdf.tolist() if c < 2] + [k / bins for k in range(2 * bins)])
    x = np.concatenate([x, np.minimum(x + 1, np.nextafter(2.0, 0))])
    assert np.array_equal(
        InverseCdf(cdf, bins)(x.reshape(-1, 1)), np.searchsorted(cdf, x, side="right")[:, None]
    )
