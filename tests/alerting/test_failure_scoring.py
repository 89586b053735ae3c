"""The failure-risk step over runs of reports: what one report at a time gave, whatever the runs."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from hypothesis import given, settings
from hypothesis import strategies as st

from alerting.failure_scoring import DroneHealthStep, ModelSource, Reading
from lakehouse.failure_model import FEATURES, HOUR_MS, FailureModel
from testkit.state import DictState

# Risk grows with the battery's fade and the motor's heat: crossings happen, and fall back.
MODEL = FailureModel(
    version=3,
    features=FEATURES,
    mean=tuple(0.0 for _ in FEATURES),
    std=tuple(1.0 for _ in FEATURES),
    coefficients=tuple(0.05 if name in ("battery_fade", "temp_level") else 0.0 for name in FEATURES),
    intercept=-4.0,
    threshold=0.5,
)


def step() -> DroneHealthStep:
    return DroneHealthStep(cast(ModelSource, SimpleNamespace(model=MODEL)))


@st.composite
def readings(draw: st.DrawFn) -> list[Reading]:
    """Three drones' reports over a few days, interleaved, each drone in time order; hot and fading
    hours now and then, a late report, a service event."""
    out: list[Reading] = []
    clock = {d: 0 for d in ("d1", "d2", "d3")}
    for _ in range(draw(st.integers(1, 300))):
        drone = draw(st.sampled_from(sorted(clock)))
        clock[drone] += draw(st.sampled_from([60_000, 600_000, HOUR_MS, 5 * HOUR_MS, -HOUR_MS]))
        out.append(
            Reading(
                drone_id=drone,
                zone="Z",
                event_ms=max(0, clock[drone]),
                battery=draw(st.floats(0, 100)),
                temp=draw(st.sampled_from([40.0, 90.0, 150.0])),
                signal=draw(st.sampled_from([-60.0, -125.0])),
                event=draw(st.sampled_from([None] * 20 + ["maintenance", "failure"])),
            )
        )
    return out


@settings(max_examples=200, deadline=None)
@given(readings(), st.lists(st.integers(1, 40), min_size=1, max_size=20))
def test_runs_raise_what_single_reports_raise(rs: list[Reading], cuts: list[int]) -> None:
    single, runs = step(), step()
    s_state, r_state = DictState(), DictState()
    expected = [a.alert_id for r in rs for a in single([r], cast(Any, s_state))]
    got: list[str] = []
    i = c = 0
    while i < len(rs):
        size = cuts[c % len(cuts)]
        got += [a.alert_id for a in runs(rs[i : i + size], cast(Any, r_state))]
        i, c = i + size, c + 1
    assert sorted(got) == sorted(expected)
    for drone in ("d1", "d2", "d3"):  # per drone, in the same order
        assert [a for a in got if f"-{drone}-" in a] == [a for a in expected if f"-{drone}-" in a]
    assert r_state.data == s_state.data, "the same state, whatever the runs"
    assert single.raised == runs.raised == len(expected)


def test_some_examples_raise_alerts() -> None:
    """The model above does cross its threshold on this data, so the test above compares alerts."""
    hot = [
        Reading(drone_id="d1", zone="Z", event_ms=h * HOUR_MS, battery=100.0 - 9 * h, temp=150.0,
                signal=-60.0, event=None)
        for h in range(30)
    ]  # fmt: skip
    alerts = step()(hot, cast(Any, DictState()))
    assert [a.alert_id for a in alerts] and all(a.alert_id.startswith("maintenance-d1-") for a in alerts)


def test_a_weak_model_raises_no_alert_but_keeps_the_features() -> None:
    hot = [
        Reading(drone_id="d1", zone="Z", event_ms=h * HOUR_MS, battery=100.0 - 9 * h, temp=150.0,
                signal=-60.0, event=None)
        for h in range(30)
    ]  # fmt: skip
    weak = DroneHealthStep(cast(ModelSource, SimpleNamespace(model=MODEL.model_copy(update={"weak": True}))))
    state, strong_state = DictState(), DictState()
    assert weak(hot, cast(Any, state)) == [] and weak.raised == 0
    step()(hot, cast(Any, strong_state))
    history = [k for k in state.data if k.startswith("history:")]
    assert history and {k: state.data[k] for k in history} == {k: strong_state.data[k] for k in history}


def test_a_card_that_does_not_validate_keeps_the_model_in_service(monkeypatch: Any) -> None:
    """The refresh thread reads what the lake holds: a broken card is logged, never the thread's end."""
    import alerting.failure_scoring as scoring

    cards = iter(
        [SimpleNamespace(model_json=MODEL.model_dump_json()), SimpleNamespace(model_json="{not json")]
    )
    monkeypatch.setattr(scoring, "load_catalog", lambda _s: None)
    monkeypatch.setattr(scoring, "latest_model_card", lambda _c, _s: next(cards))
    source = ModelSource.__new__(ModelSource)
    source.settings, source.model = cast(Any, None), None
    source._load()
    assert source.model == MODEL
    source._load()  # raised ValidationError in the refresh thread before
    assert source.model == MODEL, "the model already in service stays"
