"""The alert rules as functions of (a zone's view, sighting): no Kafka, no Quix, easy to test.

A *sighting* is one report's low-score citizens. It is the only message that crosses to the zone's
partition, so the cost of the rules grows with reports, not with the number of agitated citizens, and
both rules share one repartition and one state per zone. The rules update a :class:`ZoneView` in place
and list each change they made (a journal entry), so persisting a sighting costs what it changed, not
the size of the window (``alerting.zone_state`` keeps the journal in Quix's store; after a restart the
view is rebuilt from it and the rules continue exactly where they were).
Alert ids are derived from the data (citizen or zone and the event time that opened the episode), so
a replayed message re-creates the same alert, which every sink treats as the same alert.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypedDict

from lakehouse.schemas import Alert, AlertKind, DroneReport, Severity
from lakehouse.settings import RuleSettings


class LowCitizen(TypedDict):
    citizen_id: str
    name: str
    harmony_score: float


class Sighting(TypedDict):
    """The citizens of one report below the harmony threshold, with where and when they were seen."""

    zone: str
    drone_id: str
    report_id: str
    event_ms: int
    lows: list[LowCitizen]


def sighting(report: DroneReport, threshold: float) -> Sighting | None:
    """The report's low-score citizens, or None when it has none (nothing for the rules to do)."""
    lows = [
        LowCitizen(citizen_id=c.citizen_id, name=c.name, harmony_score=c.harmony_score)
        for c in report.citizens
        if c.harmony_score < threshold
    ]
    if not lows:
        return None
    return Sighting(
        zone=report.zone,
        drone_id=report.drone_id,
        report_id=report.report_id,
        event_ms=int(report.event_time.timestamp() * 1000),
        lows=lows,
    )


# A journal entry: which map changed (SEEN: the riot window, ALERTED: the cool-downs), whose entry, and
# its new value. Replaying a zone's entries in order, then forgetting what is past the horizons, gives
# back the same view (tests/alerting/test_zone_state.py proves it against the rules' reference).
SEEN, ALERTED = 0, 1
Entry = tuple[int, str, int]


@dataclass
class ZoneView:
    """One zone's rule state. Both maps are in insertion order (an update re-inserts), which is time
    order up to the small skew between partitions, so forgetting the past costs what it forgets."""

    newest_ms: int | None = None
    alerted: dict[str, int] = field(default_factory=dict)  # citizen -> event time of their last alert
    seen: dict[str, int] = field(default_factory=dict)  # citizen -> their last sighting in the window
    episode: dict[str, Any] | None = None  # the open riot episode: alert_id, start_ms, severity

    def put(self, kind: int, citizen: str, ms: int) -> None:
        """Apply one journal entry (the rules' updates and the journal's replay share it)."""
        entries = self.seen if kind == SEEN else self.alerted
        entries.pop(citizen, None)
        entries[citizen] = ms


def _ms_to_dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _drop_front(last_ms: dict[str, int], horizon_ms: int) -> None:
    """Forget entries at or before the horizon, oldest first, stopping at the first newer one."""
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

    State: per citizen, when their last alert was raised; entries older than the cool-down are dropped.
    A sighting a whole cool-down older than the zone's newest event is too late to tell whether it was
    alerted already, and raises nothing.
    """

    rules: RuleSettings

    @property
    def horizon_ms(self) -> int:
        return int(self.rules.citizen_cooldown_minutes * 60_000)

    def apply(self, view: ZoneView, s: Sighting, now: datetime, changes: list[Entry]) -> list[Alert]:
        cooldown_ms, t = self.horizon_ms, s["event_ms"]
        newest = view.newest_ms if view.newest_ms is not None else t
        alerts = []
        if t > newest - cooldown_ms:
            for low in s["lows"]:
                cid = low["citizen_id"]
                last = view.alerted.get(cid)
                if last is not None and t < last + cooldown_ms:
                    continue
                view.put(ALERTED, cid, t)
                changes.append((ALERTED, cid, t))
                alerts.append(self._alert(s, low, now))
        _drop_front(view.alerted, newest - cooldown_ms)
        return alerts

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

    @property
    def horizon_ms(self) -> int:
        return int(self.rules.riot_window_minutes * 60_000)

    def apply(self, view: ZoneView, s: Sighting, now: datetime, changes: list[Entry]) -> Alert | None:
        window_ms, t = self.horizon_ms, s["event_ms"]
        newest = view.newest_ms if view.newest_ms is not None else t
        seen = view.seen
        for low in s["lows"] if t > newest - window_ms else ():  # else: too late for the window
            cid = low["citizen_id"]
            last = max(t, seen.get(cid, t))
            view.put(SEEN, cid, last)
            changes.append((SEEN, cid, last))
        _drop_front(seen, newest - window_ms)
        episode = view.episode
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
        view.episode = episode
        return alert

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
    """Both rules over one zone's sightings, in one view: what the processor runs per zone key."""

    def __init__(self, rules: RuleSettings) -> None:
        self.citizen = CitizenRule(rules)
        self.riot = RiotRule(rules)

    def apply(self, view: ZoneView, s: Sighting, now: datetime) -> tuple[list[Alert], list[Entry]]:
        """Update the view with one sighting: the alerts it raises and the journal entries it made."""
        view.newest_ms = s["event_ms"] if view.newest_ms is None else max(view.newest_ms, s["event_ms"])
        changes: list[Entry] = []
        alerts = self.citizen.apply(view, s, now, changes)
        riot_alert = self.riot.apply(view, s, now, changes)
        if riot_alert is not None:
            alerts.append(riot_alert)
        return alerts, changes

    def forget(self, view: ZoneView) -> None:
        """Drop what is past both horizons: after a replay of the journal, the view the rules had."""
        if view.newest_ms is not None:
            _drop_front(view.alerted, view.newest_ms - self.citizen.horizon_ms)
            _drop_front(view.seen, view.newest_ms - self.riot.horizon_ms)
