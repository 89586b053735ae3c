"""The zone rules as they were before the journal (``alerting.zone_state``): one JSON document per zone,
re-serialised on every sighting. Kept as the reference the journalled rules must agree with, sighting
for sighting, whatever the restarts (tests/alerting/test_zone_state.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from alerting.rules import LowCitizen, Sighting, riot_severity
from lakehouse.schemas import Alert, AlertKind, Severity
from lakehouse.settings import RuleSettings


def _ms_to_dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _drop_front(last_ms: dict[str, int], horizon_ms: int) -> None:
    """Forget entries at or before the horizon, oldest first, stopping at the first newer one.

    Entries are re-inserted when they are updated, so the dict is in arrival order, which is time
    order up to the small skew between partitions: this costs what it drops, not the whole window.
    """
    stale = []
    for key, ms in last_ms.items():
        if ms > horizon_ms:
            break
        stale.append(key)
    for key in stale:
        del last_ms[key]


@dataclass(frozen=True)
class CitizenRule:
    """One alert per agitated citizen and zone per cool-down, however many drones see them.

    State: the zone's newest event time and, per citizen, when their last alert was raised; entries
    older than the cool-down are dropped. A sighting a whole cool-down older than the zone's newest
    event is too late to tell whether it was alerted already, and raises nothing.
    """

    rules: RuleSettings

    def apply(
        self, state: dict[str, Any] | None, s: Sighting, now: datetime
    ) -> tuple[dict[str, Any], list[Alert]]:
        cooldown_ms = int(self.rules.citizen_cooldown_minutes * 60_000)
        t = s["event_ms"]
        st = state or {"newest_ms": t, "alerted": {}}
        newest = st["newest_ms"] = max(t, st["newest_ms"])
        alerted: dict[str, int] = st["alerted"]
        alerts = []
        if t > newest - cooldown_ms:
            for low in s["lows"]:
                cid = low["citizen_id"]
                last = alerted.get(cid)
                if last is not None and t < last + cooldown_ms:
                    continue
                alerted.pop(cid, None)
                alerted[cid] = t  # re-inserted last: the dict stays in (near) time order
                alerts.append(self._alert(s, low, now))
        _drop_front(alerted, newest - cooldown_ms)
        return st, alerts

    def _alert(self, s: Sighting, low: LowCitizen, now: datetime) -> Alert:
        threshold = self.rules.low_harmony_threshold
        return Alert(
            alert_id=f"low-{low['citizen_id']}-{s['event_ms']}",
            kind=AlertKind.LOW_HARMONY,
            severity=Severity.MEDIUM if low["harmony_score"] < threshold / 2 else Severity.LOW,
            drone_id=s["drone_id"],
            zone=s["zone"],
            citizens=[low["citizen_id"]],
            event_time=_ms_to_dt(s["event_ms"]),
            detected_at=now,
            reason=f"{low['name']} ({low['citizen_id']}) scored {low['harmony_score']:.1f}, "
            f"below {threshold:g}",
        )


@dataclass(frozen=True)
class RiotRule:
    """At least K distinct low-score citizens in one zone within W minutes: one alert per episode.

    The episode opens when the sliding window first holds K citizens and closes when it falls below K;
    while open, the alert is re-emitted (same id) only when its severity grows.
    """

    rules: RuleSettings

    def apply(
        self, state: dict[str, Any] | None, s: Sighting, now: datetime
    ) -> tuple[dict[str, Any], Alert | None]:
        window_ms = int(self.rules.riot_window_minutes * 60_000)
        t = s["event_ms"]
        st = state or {"newest_ms": t, "seen": {}, "episode": None}
        newest = st["newest_ms"] = max(t, st["newest_ms"])
        seen: dict[str, int] = st["seen"]
        for low in s["lows"] if t > newest - window_ms else ():  # else: too late for the window
            cid = low["citizen_id"]
            last = seen.pop(cid, t)
            seen[cid] = max(t, last)  # re-inserted last: the dict stays in (near) time order
        _drop_front(seen, newest - window_ms)
        episode = st["episode"]
        count = len(seen)
        alert = None
        if count < self.rules.riot_min_citizens:
            episode = None
        else:
            severity = riot_severity(count, self.rules.riot_min_citizens)
            if episode is None:
                episode = {"alert_id": f"riot-{s['zone']}-{t}", "start_ms": t, "severity": severity.value}
                alert = self._alert(episode, s, seen, severity, now)
            elif severity.rank > Severity(episode["severity"]).rank:
                episode = {**episode, "severity": severity.value}
                alert = self._alert(episode, s, seen, severity, now)
        st["episode"] = episode
        return st, alert

    def _alert(
        self, episode: dict[str, Any], s: Sighting, seen: dict[str, int], severity: Severity, now: datetime
    ) -> Alert:
        minutes = self.rules.riot_window_minutes
        return Alert(
            alert_id=episode["alert_id"],
            kind=AlertKind.RIOT,
            severity=severity,
            drone_id=s["drone_id"],
            zone=s["zone"],
            citizens=sorted(seen),
            event_time=_ms_to_dt(episode["start_ms"]),
            detected_at=now,
            reason=f"{len(seen)} citizens below {self.rules.low_harmony_threshold:g} in {s['zone']} "
            f"within {minutes:g} minutes",
        )


class ZoneRules:
    """Both rules over one zone's sightings, in one state: what the processor runs per zone key."""

    def __init__(self, rules: RuleSettings) -> None:
        self.citizen = CitizenRule(rules)
        self.riot = RiotRule(rules)

    def apply(
        self, state: dict[str, Any] | None, s: Sighting, now: datetime
    ) -> tuple[dict[str, Any], list[Alert]]:
        st = state or {}
        citizens, alerts = self.citizen.apply(st.get("citizens"), s, now)
        riot, riot_alert = self.riot.apply(st.get("riot"), s, now)
        if riot_alert is not None:
            alerts.append(riot_alert)
        return {"citizens": citizens, "riot": riot}, alerts
