"""The alert rules as pure functions of (state, observation): no Kafka, no Quix, easy to test.

State is a plain JSON-able dict so Quix keeps it in RocksDB and its changelog topic: after a restart
the rules continue exactly where they were. Alert ids are derived from the data (citizen or zone and
the event time that opened the episode), so a replayed message re-creates the same alert, which every
sink treats as the same alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypedDict

from lakehouse.schemas import Alert, AlertKind, DroneReport, Severity
from lakehouse.settings import RuleSettings


class LowObservation(TypedDict):
    """A citizen seen below the harmony threshold: what the rules consume after the first step."""

    citizen_id: str
    name: str
    harmony_score: float
    zone: str
    drone_id: str
    report_id: str
    event_ms: int


def low_observations(report: DroneReport, threshold: float) -> list[LowObservation]:
    event_ms = int(report.event_time.timestamp() * 1000)
    return [
        LowObservation(
            citizen_id=c.citizen_id,
            name=c.name,
            harmony_score=c.harmony_score,
            zone=report.zone,
            drone_id=report.drone_id,
            report_id=report.report_id,
            event_ms=event_ms,
        )
        for c in report.citizens
        if c.harmony_score < threshold
    ]


def _ms_to_dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


@dataclass(frozen=True)
class CitizenRule:
    """One alert per agitated citizen per cool-down, however many drones see them."""

    rules: RuleSettings

    def apply(
        self, state: dict[str, Any] | None, obs: LowObservation, now: datetime
    ) -> tuple[dict[str, Any], Alert | None]:
        cooldown_ms = int(self.rules.citizen_cooldown_minutes * 60_000)
        last = (state or {}).get("last_ms")
        if last is not None and 0 <= obs["event_ms"] - last < cooldown_ms:
            return state or {}, None
        if last is not None and obs["event_ms"] < last:
            return state or {}, None  # older than the alert already raised: part of that one
        severity = (
            Severity.MEDIUM if obs["harmony_score"] < self.rules.low_harmony_threshold / 2 else Severity.LOW
        )
        alert = Alert(
            alert_id=f"low-{obs['citizen_id']}-{obs['event_ms']}",
            kind=AlertKind.LOW_HARMONY,
            severity=severity,
            drone_id=obs["drone_id"],
            zone=obs["zone"],
            citizens=[obs["citizen_id"]],
            event_time=_ms_to_dt(obs["event_ms"]),
            detected_at=now,
            reason=f"{obs['name']} ({obs['citizen_id']}) scored {obs['harmony_score']:.1f}, "
            f"below {self.rules.low_harmony_threshold:g}",
        )
        return {"last_ms": obs["event_ms"]}, alert


def riot_severity(count: int, minimum: int) -> Severity:
    if count >= 3 * minimum:
        return Severity.CRITICAL
    if count >= 2 * minimum:
        return Severity.HIGH
    return Severity.MEDIUM


@dataclass(frozen=True)
class RiotRule:
    """At least K distinct low-score citizens in one zone within W minutes: one alert per episode.

    The episode opens when the sliding window first holds K citizens and closes when it falls below K;
    while open, the alert is re-emitted (same id) only when its severity grows.
    """

    rules: RuleSettings

    def apply(
        self, state: dict[str, Any] | None, obs: LowObservation, now: datetime
    ) -> tuple[dict[str, Any], Alert | None]:
        window_ms = int(self.rules.riot_window_minutes * 60_000)
        st = state or {"seen": {}, "episode": None}
        seen: dict[str, int] = st["seen"]
        t = obs["event_ms"]
        seen[obs["citizen_id"]] = max(t, seen.get(obs["citizen_id"], t))
        horizon = max(seen.values()) - window_ms
        seen = {cid: ts for cid, ts in seen.items() if ts > horizon}
        episode = st["episode"]
        count = len(seen)
        alert = None
        if count < self.rules.riot_min_citizens:
            episode = None
        else:
            severity = riot_severity(count, self.rules.riot_min_citizens)
            if episode is None:
                episode = {"alert_id": f"riot-{obs['zone']}-{t}", "start_ms": t, "severity": severity.value}
                alert = self._alert(episode, obs, seen, severity, now)
            elif list(Severity).index(severity) > list(Severity).index(Severity(episode["severity"])):
                episode = {**episode, "severity": severity.value}
                alert = self._alert(episode, obs, seen, severity, now)
        return {"seen": seen, "episode": episode}, alert

    def _alert(
        self,
        episode: dict[str, Any],
        obs: LowObservation,
        seen: dict[str, int],
        severity: Severity,
        now: datetime,
    ) -> Alert:
        minutes = self.rules.riot_window_minutes
        return Alert(
            alert_id=episode["alert_id"],
            kind=AlertKind.RIOT,
            severity=severity,
            drone_id=obs["drone_id"],
            zone=obs["zone"],
            citizens=sorted(seen),
            event_time=_ms_to_dt(episode["start_ms"]),
            detected_at=now,
            reason=f"{len(seen)} citizens below {self.rules.low_harmony_threshold:g} in {obs['zone']} "
            f"within {minutes:g} minutes",
        )
