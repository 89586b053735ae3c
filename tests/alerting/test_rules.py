"""The alert rules on their own: cool-down, riot episodes, severity."""

from __future__ import annotations

from datetime import UTC, datetime

from alerting.rules import CitizenRule, LowObservation, RiotRule, low_observations, riot_severity
from lakehouse.schemas import AlertKind, DroneReport, Severity
from lakehouse.settings import RuleSettings

RULES = RuleSettings(
    low_harmony_threshold=30, riot_min_citizens=4, riot_window_minutes=5, citizen_cooldown_minutes=10
)
NOW = datetime(2026, 9, 1, tzinfo=UTC)
MIN = 60_000


def obs(citizen: str, t_ms: int, zone: str = "Cathedral", score: float = 10.0) -> LowObservation:
    return LowObservation(
        citizen_id=citizen,
        name=f"N {citizen}",
        harmony_score=score,
        zone=zone,
        drone_id="drone-0001",
        report_id="r",
        event_ms=t_ms,
    )


def run(rule, observations):
    state, alerts = None, []
    for o in observations:
        state, alert = rule.apply(state, o, NOW)
        if alert is not None:
            alerts.append(alert)
    return state, alerts


def test_low_observations_keep_only_citizens_below_threshold() -> None:
    report = DroneReport.model_validate(
        {
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
    )
    lows = low_observations(report, 30)
    assert [o["citizen_id"] for o in lows] == ["a"]
    assert lows[0]["event_ms"] == int(datetime(2026, 9, 1, 10, tzinfo=UTC).timestamp() * 1000)


def test_one_citizen_seen_by_three_drones_is_one_alert() -> None:
    _, alerts = run(CitizenRule(RULES), [obs("c1", 0), obs("c1", 1000), obs("c1", 2000)])
    assert len(alerts) == 1 and alerts[0].kind == AlertKind.LOW_HARMONY
    assert alerts[0].citizens == ["c1"] and alerts[0].alert_id == "low-c1-0"


def test_cool_down_expires() -> None:
    _, alerts = run(CitizenRule(RULES), [obs("c1", 0), obs("c1", 9 * MIN), obs("c1", 10 * MIN)])
    assert [a.alert_id for a in alerts] == ["low-c1-0", f"low-c1-{10 * MIN}"]


def test_very_low_scores_are_more_severe() -> None:
    _, [low] = run(CitizenRule(RULES), [obs("c1", 0, score=20)])
    _, [lower] = run(CitizenRule(RULES), [obs("c1", 0, score=5)])
    assert (low.severity, lower.severity) == (Severity.LOW, Severity.MEDIUM)


def test_riot_needs_k_distinct_citizens_within_the_window() -> None:
    # Three citizens, seen again and again: never a riot.
    _, alerts = run(RiotRule(RULES), [obs(f"c{i % 3}", i * 1000) for i in range(50)])
    assert alerts == []
    # Four citizens, but spread over more than the window: no riot either.
    _, alerts = run(RiotRule(RULES), [obs(f"c{i}", i * 2 * MIN) for i in range(4)])
    assert alerts == []


def test_riot_episode_is_one_alert_that_only_escalates() -> None:
    stream = [obs(f"c{i}", i * 1000) for i in range(4)] + [
        obs(f"c{i % 4}", 10_000 + i * 1000) for i in range(40)
    ]
    _, alerts = run(RiotRule(RULES), stream)
    assert len(alerts) == 1
    riot = alerts[0]
    assert riot.kind == AlertKind.RIOT and riot.severity == Severity.MEDIUM and riot.zone == "Cathedral"
    assert riot.alert_id == "riot-Cathedral-3000" and riot.event_time == datetime.fromtimestamp(3, UTC)
    more = stream + [obs(f"x{i}", 50_000 + i) for i in range(4)]
    _, alerts = run(RiotRule(RULES), more)
    assert [a.severity for a in alerts] == [Severity.MEDIUM, Severity.HIGH]
    assert {a.alert_id for a in alerts} == {"riot-Cathedral-3000"}


def test_a_new_episode_after_calm_is_a_new_alert() -> None:
    first = [obs(f"c{i}", i * 1000) for i in range(4)]
    second = [obs(f"d{i}", 30 * MIN + i * 1000) for i in range(4)]
    _, alerts = run(RiotRule(RULES), first + second)
    assert [a.alert_id for a in alerts] == ["riot-Cathedral-3000", f"riot-Cathedral-{30 * MIN + 3000}"]


def test_state_is_plain_json() -> None:
    import orjson

    state, _ = run(RiotRule(RULES), [obs(f"c{i}", i * 1000) for i in range(6)])
    assert orjson.loads(orjson.dumps(state)) == state


def test_severity_grows_with_the_count() -> None:
    assert [riot_severity(n, 10) for n in (10, 19, 20, 29, 30)] == [
        Severity.MEDIUM,
        Severity.MEDIUM,
        Severity.HIGH,
        Severity.HIGH,
        Severity.CRITICAL,
    ]
