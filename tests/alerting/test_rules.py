"""The alert rules on their own: cool-down, riot episodes, severity."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from alerting.rules import (
    CALM,
    LowCitizen,
    Riot,
    Sighting,
    ZoneRules,
    ZoneView,
    riot_severity,
    sighting,
)
from lakehouse.schemas import Alert, AlertKind, DroneReport, Severity
from lakehouse.settings import RuleSettings

RULES = RuleSettings(
    low_harmony_threshold=30, riot_min_citizens=4, riot_window_minutes=5, citizen_cooldown_minutes=10
)
NOW = datetime(2026, 9, 1, tzinfo=UTC)
MIN = 60_000
LOW, RIOT = AlertKind.LOW_HARMONY, AlertKind.RIOT


def seen(t_ms: int, *citizens: str, zone: str = "Cathedral", score: float = 10.0) -> Sighting:
    return Sighting(
        zone=zone,
        drone_id="drone-0001",
        report_id="r",
        event_ms=t_ms,
        lows=[LowCitizen(citizen_id=c, name=f"N {c}", harmony_score=score) for c in citizens],
    )


def run(sightings: list[Sighting], kind: AlertKind | None = None) -> tuple[ZoneView, list[Alert]]:
    """The sightings through both rules one at a time, from an empty view: the last view and the alerts
    (of one kind, when given)."""
    rules, view, alerts = ZoneRules(RULES), ZoneView(), []
    for s in sightings:
        view, raised, _ = rules.apply(view, s, NOW)
        alerts += [a for a in raised if kind is None or a.kind == kind]
    return view, alerts


def test_a_sighting_keeps_only_citizens_below_threshold() -> None:
    body: dict[str, Any] = {
        "report_id": "r1",
        "drone_id": "d",
        "event_time": "2026-09-01T10:00:00.000Z",
        "position": {"lat": 48.85, "lon": 2.3, "altitude_m": 100},
        "zone": "Cathedral",
        "health": {"battery_pct": 50, "motor_temp_c": 40, "signal_dbm": -60, "firmware": "2.4.0"},
        "citizens": [
            {"citizen_id": "a", "name": "A", "harmony_score": 29.9},
            {"citizen_id": "b", "name": "B", "harmony_score": 30.0},
        ],
        "words": [],
    }
    s = sighting(DroneReport.model_validate(body), 30)
    assert s is not None and [c["citizen_id"] for c in s["lows"]] == ["a"]
    assert s["event_ms"] == int(datetime(2026, 9, 1, 10, tzinfo=UTC).timestamp() * 1000)
    body["citizens"] = body["citizens"][1:]
    assert sighting(DroneReport.model_validate(body), 30) is None, "nothing low: nothing to send"


def test_one_citizen_seen_by_three_drones_is_one_alert() -> None:
    _, alerts = run([seen(0, "c1"), seen(1000, "c1"), seen(2000, "c1", "c1")], LOW)
    assert len(alerts) == 1 and alerts[0].kind == AlertKind.LOW_HARMONY
    assert alerts[0].citizens == ["c1"] and alerts[0].alert_id == "low-c1-0"


def test_cool_down_expires_and_old_entries_are_dropped() -> None:
    state, alerts = run([seen(0, "c1", "c2"), seen(9 * MIN, "c1"), seen(10 * MIN, "c1")], LOW)
    assert [a.alert_id for a in alerts] == ["low-c1-0", "low-c2-0", f"low-c1-{10 * MIN}"]
    assert state.alerted == {"c1": 10 * MIN}, "c2's cool-down is over: forgotten"


def test_a_sighting_older_than_the_alert_belongs_to_it() -> None:
    _, alerts = run([seen(5 * MIN, "c1"), seen(4 * MIN, "c1")], LOW)
    assert [a.alert_id for a in alerts] == [f"low-c1-{5 * MIN}"]


def test_very_low_scores_are_more_severe() -> None:
    _, [low] = run([seen(0, "c1", score=20)], LOW)
    _, [lower] = run([seen(0, "c1", score=5)], LOW)
    assert (low.severity, lower.severity) == (Severity.LOW, Severity.MEDIUM)


def test_riot_needs_k_distinct_citizens_within_the_window() -> None:
    # Three citizens, seen again and again: never a riot.
    _, alerts = run([seen(i * 1000, f"c{i % 3}") for i in range(50)], RIOT)
    assert alerts == []
    # Four citizens, but spread over more than the window: no riot either.
    _, alerts = run([seen(i * 2 * MIN, f"c{i}") for i in range(4)], RIOT)
    assert alerts == []
    # Four citizens in one report are a riot at once.
    _, [riot] = run([seen(0, "a", "b", "c", "d")], RIOT)
    assert riot.citizens == ["a", "b", "c", "d"]


def test_riot_episode_is_one_alert_that_only_escalates() -> None:
    stream = [seen(i * 1000, f"c{i}") for i in range(4)] + [
        seen(10_000 + i * 1000, f"c{i % 4}") for i in range(40)
    ]
    _, alerts = run(stream, RIOT)
    assert len(alerts) == 1
    riot = alerts[0]
    assert riot.kind == AlertKind.RIOT and riot.severity == Severity.MEDIUM and riot.zone == "Cathedral"
    assert riot.alert_id == "riot-Cathedral-3000" and riot.event_time == datetime.fromtimestamp(3, UTC)
    more = stream + [seen(50_000 + i, f"x{i}") for i in range(4)]
    _, alerts = run(more, RIOT)
    assert [a.severity for a in alerts] == [Severity.MEDIUM, Severity.HIGH]
    assert {a.alert_id for a in alerts} == {"riot-Cathedral-3000"}


def test_a_sighting_older_than_the_window_does_not_count() -> None:
    late = [seen(10 * MIN + i, f"c{i}") for i in range(3)] + [seen(2 * MIN, "late")]
    state, alerts = run(late, RIOT)
    assert alerts == [] and "late" not in state.seen


def test_the_window_forgets_oldest_first() -> None:
    state, _ = run([seen(0, "a"), seen(MIN, "b"), seen(2 * MIN, "a"), seen(6 * MIN, "c")], RIOT)
    assert list(state.seen) == ["a", "c"], "b left the window; a was seen again at 2 min"


def test_a_new_episode_after_calm_is_a_new_alert() -> None:
    first = [seen(i * 1000, f"c{i}") for i in range(4)]
    second = [seen(30 * MIN + i * 1000, f"d{i}") for i in range(4)]
    _, alerts = run(first + second, RIOT)
    assert [a.alert_id for a in alerts] == ["riot-Cathedral-3000", f"riot-Cathedral-{30 * MIN + 3000}"]


def test_zone_rules_raise_both_kinds_and_journal_what_they_changed() -> None:
    view, alerts = run([seen(i * 1000, f"c{i}") for i in range(6)])
    kinds = [a.kind for a in alerts]
    assert kinds.count(AlertKind.LOW_HARMONY) == 6 and kinds.count(AlertKind.RIOT) == 1
    assert kinds.index(AlertKind.RIOT) == 4, "the riot is raised with the sighting that makes it one"
    _, _, changes = ZoneRules(RULES).apply(view, seen(7000, "c0", "new"), NOW)
    assert changes == ((1, "new", 7000), (0, "c0", 7000), (0, "new", 7000)), "c0 is cooling down: seen only"


def test_severity_grows_with_the_count() -> None:
    assert [riot_severity(n, 10) for n in (10, 19, 20, 29, 30)] == [
        Severity.MEDIUM,
        Severity.MEDIUM,
        Severity.HIGH,
        Severity.HIGH,
        Severity.CRITICAL,
    ]


def test_the_rules_never_change_the_view_they_are_given() -> None:
    rules = ZoneRules(RULES)
    before, _ = run([seen(i * 1000, f"c{i}") for i in range(5)])
    snapshot = (before.newest_ms, dict(before.alerted), dict(before.seen), before.episode)
    after, alerts, _ = rules.apply(before, seen(20 * MIN, "late", "x"), NOW)
    assert alerts and after != before
    assert (before.newest_ms, dict(before.alerted), dict(before.seen), before.episode) == snapshot
    assert isinstance(before.episode, Riot) and after.episode == CALM, "the window moved on: calm again"
    with pytest.raises(TypeError):
        before.seen["intruder"] = 0  # type: ignore[index]
    with pytest.raises(AttributeError):
        before.newest_ms = 0  # type: ignore[misc]


def test_a_fold_of_sightings_is_the_sightings_one_at_a_time() -> None:
    stream = [seen(i * 20_000, f"c{i % 7}", f"c{(i * 3) % 11}") for i in range(60)]
    one_view, one_alerts = run(stream)
    folded = ZoneRules(RULES).fold(ZoneView(), stream, NOW)
    assert folded.view == one_view and list(folded.alerts) == one_alerts
    assert list(folded.view.seen) == list(one_view.seen), "the same order too: it decides what is forgotten"


def test_a_journal_rebuilds_the_view_it_was_written_from() -> None:
    rules = ZoneRules(RULES)
    stream = [seen(i * 45_000, f"c{i % 9}", f"c{(i * 5) % 13}") for i in range(80)]
    folded = rules.fold(ZoneView(), stream, NOW)
    rebuilt = rules.rebuilt(folded.view.newest_ms, folded.view.episode, folded.entries)
    assert rebuilt == folded.view and list(rebuilt.alerted) == list(folded.view.alerted)
