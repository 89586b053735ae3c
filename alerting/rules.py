"""The alert rules as a pure function: ``(view, sightings, now) -> (view, alerts, entries)``.

A *sighting* is one report's low-score citizens. It is the only message that crosses to the zone's
partition, so the cost of the rules grows with reports, not with the number of agitated citizens, and
both rules share one repartition and one view per zone.

A :class:`ZoneView` is frozen: its maps are read-only proxies, its open episode a :class:`Riot` or
:data:`CALM`, its newest time :data:`NEVER` (the identity of ``max``) before the first sighting. The rules
never change a view; they return the next one, the alerts and the journal entries that turn one into
the other (the changes, so that persisting a sighting costs what it changed, not the size of the window:
``alerting.zone_state`` keeps the journal in Quix's store and, after a restart, rebuilds the view with
:meth:`ZoneRules.rebuilt`). A run of sightings is one fold; its working maps are copied from the view
once and frozen into the next one (a transient, as Clojure calls it), so a flood costs what it changes
plus one copy per run, and nothing outside the fold ever sees them change.

Alert ids are derived from the data (citizen or zone and the event time that opened the episode), so a
replayed message re-creates the same alert, which every sink treats as the same alert.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from types import MappingProxyType
from typing import Final, NamedTuple, TypedDict

from typing_extensions import ReadOnly

from lakehouse.schemas import Alert, AlertKind, DroneReport, Severity
from lakehouse.settings import RuleSettings


class LowCitizen(TypedDict):
    citizen_id: ReadOnly[str]
    name: ReadOnly[str]
    harmony_score: ReadOnly[float]


class Sighting(TypedDict):
    """The citizens of one report below the harmony threshold, with where and when they were seen.

    A TypedDict because it is the repartition topic's JSON as Quix hands it over; read-only to the rules.
    """

    zone: ReadOnly[str]
    drone_id: ReadOnly[str]
    report_id: ReadOnly[str]
    event_ms: ReadOnly[int]
    lows: ReadOnly[list[LowCitizen]]


def sighting(report: DroneReport, threshold: float) -> Sighting | None:
    """The report's low-score citizens, or None when it has none (nothing to send to the zone)."""
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


NEVER: Final = -(2**63)  # the newest event time of a zone that has seen nothing: max(NEVER, t) == t

# Which map a journal entry changes: SEEN the riot window, ALERTED the cool-downs (the stored form).
SEEN: Final = 0
ALERTED: Final = 1


class Entry(NamedTuple):
    """One change of a view's map: replaying a zone's entries in order, then forgetting what is past the
    horizons, gives back the same view (tests/alerting/test_zone_state.py rebuilds views from them)."""

    kind: int
    citizen: str
    ms: int


@dataclass(frozen=True, slots=True)
class Riot:
    """The zone's open riot episode: the id its alert keeps, when it opened, how severe it is now."""

    alert_id: str
    start_ms: int
    severity: Severity


@dataclass(frozen=True, slots=True)
class Calm:
    """No riot episode is open in the zone."""


CALM: Final = Calm()
Episode = Riot | Calm

_EMPTY: Final[MappingProxyType[str, int]] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ZoneView:
    """One zone's rule state. Both maps are in insertion order (an update re-inserts), which is time
    order up to the small skew between partitions, so forgetting the past costs what it forgets."""

    newest_ms: int = NEVER
    alerted: MappingProxyType[str, int] = field(default_factory=lambda: _EMPTY)  # citizen -> last alert
    seen: MappingProxyType[str, int] = field(default_factory=lambda: _EMPTY)  # citizen -> last seen
    episode: Episode = CALM


class Step(NamedTuple):
    """What the rules make of a view and sightings: the next view, the alerts, the journal entries."""

    view: ZoneView
    alerts: tuple[Alert, ...]
    entries: tuple[Entry, ...]


def _ms_to_dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _forget(working: dict[str, int], horizon_ms: int) -> None:
    """Forget a fold's working entries at or before the horizon, oldest first, up to the first newer one."""
    stale = []
    for key, ms in working.items():
        if ms > horizon_ms:
            break
        stale.append(key)
    for key in stale:
        del working[key]


def _put(working: dict[str, int], entries: Iterable[Entry]) -> None:
    """Apply entries to a fold's working map: an update moves the citizen to the end."""
    for entry in entries:
        working.pop(entry.citizen, None)
        working[entry.citizen] = entry.ms


def riot_severity(count: int, minimum: int) -> Severity:
    if count >= 3 * minimum:
        return Severity.CRITICAL
    if count >= 2 * minimum:
        return Severity.HIGH
    return Severity.MEDIUM


@dataclass(frozen=True)
class CitizenRule:
    """One alert per agitated citizen and zone per cool-down, however many drones see them.

    A sighting a whole cool-down older than the zone's newest event is too late to tell whether it was
    alerted already, and raises nothing.
    """

    rules: RuleSettings

    @cached_property
    def horizon_ms(self) -> int:
        return int(self.rules.citizen_cooldown_minutes * 60_000)

    def decide(self, alerted: Mapping[str, int], newest_ms: int, s: Sighting) -> tuple[Entry, ...]:
        """The citizens of the sighting to alert now (a citizen twice in one report is alerted once)."""
        t = s["event_ms"]
        if t <= newest_ms - self.horizon_ms:
            return ()
        due = (
            low["citizen_id"]
            for low in s["lows"]
            if (last := alerted.get(low["citizen_id"])) is None or t >= last + self.horizon_ms
        )
        return tuple(Entry(ALERTED, cid, t) for cid in dict.fromkeys(due))

    def alert(self, s: Sighting, citizen: str, now: datetime) -> Alert:
        low = next(x for x in s["lows"] if x["citizen_id"] == citizen)
        threshold = self.rules.low_harmony_threshold
        return Alert(
            alert_id=f"low-{citizen}-{s['event_ms']}",
            kind=AlertKind.LOW_HARMONY,
            severity=Severity.MEDIUM if low["harmony_score"] < threshold / 2 else Severity.LOW,
            drone_id=s["drone_id"],
            zone=s["zone"],
            citizens=[citizen],
            event_time=_ms_to_dt(s["event_ms"]),
            detected_at=now,
            reason=f"{low['name']} ({citizen}) scored {low['harmony_score']:.1f}, below {threshold:g}",
        )


@dataclass(frozen=True)
class RiotRule:
    """At least K distinct low-score citizens in one zone within W minutes: one alert per episode.

    The episode opens when the sliding window first holds K citizens and closes when it falls below K;
    while open, the alert is re-emitted (same id) only when its severity grows.
    """

    rules: RuleSettings

    @cached_property
    def horizon_ms(self) -> int:
        return int(self.rules.riot_window_minutes * 60_000)

    def decide(self, seen: Mapping[str, int], newest_ms: int, s: Sighting) -> tuple[Entry, ...]:
        """The window's updates: each citizen of a sighting still in the window, at their latest time."""
        t = s["event_ms"]
        if t <= newest_ms - self.horizon_ms:  # too late for the window
            return ()
        return tuple(
            Entry(SEEN, low["citizen_id"], max(t, seen.get(low["citizen_id"], t))) for low in s["lows"]
        )

    def next_episode(
        self, episode: Episode, seen: Mapping[str, int], s: Sighting, now: datetime
    ) -> tuple[Episode, tuple[Alert, ...]]:
        """The episode after the window changed, and its alert when it opened or grew more severe."""
        count, minimum = len(seen), self.rules.riot_min_citizens
        if count < minimum:
            return CALM, ()
        severity = riot_severity(count, minimum)
        if isinstance(episode, Riot) and severity is episode.severity:  # the flood's common case
            return episode, ()
        match episode:
            case Calm():
                opened = Riot(f"riot-{s['zone']}-{s['event_ms']}", s["event_ms"], severity)
                return opened, (self._alert(opened, s, seen, now),)
            case Riot() if severity.rank > episode.severity.rank:
                grown = Riot(episode.alert_id, episode.start_ms, severity)
                return grown, (self._alert(grown, s, seen, now),)
            case _:
                return episode, ()

    def _alert(self, riot: Riot, s: Sighting, seen: Mapping[str, int], now: datetime) -> Alert:
        minutes = self.rules.riot_window_minutes
        return Alert(
            alert_id=riot.alert_id,
            kind=AlertKind.RIOT,
            severity=riot.severity,
            drone_id=s["drone_id"],
            zone=s["zone"],
            citizens=sorted(seen),
            event_time=_ms_to_dt(riot.start_ms),
            detected_at=now,
            reason=f"{len(seen)} citizens below {self.rules.low_harmony_threshold:g} in {s['zone']} "
            f"within {minutes:g} minutes",
        )


class ZoneRules:
    """Both rules over one zone's sightings, in one view: what the processor runs per zone key."""

    def __init__(self, rules: RuleSettings) -> None:
        self.citizen = CitizenRule(rules)
        self.riot = RiotRule(rules)

    def apply(self, view: ZoneView, s: Sighting, now: datetime) -> Step:
        """One sighting: the next view, the alerts it raises, the journal entries it made."""
        return self.fold(view, (s,), now)

    def fold(self, view: ZoneView, sightings: Sequence[Sighting], now: datetime) -> Step:
        """The sightings in order, as one at a time would see them; per sighting, the citizen alerts
        come before the riot's, and the cool-down entries before the window's."""
        alerted, seen = view.alerted.copy(), view.seen.copy()  # the fold's own, frozen at the end
        newest, episode = view.newest_ms, view.episode
        cooldown_ms, window_ms = self.citizen.horizon_ms, self.riot.horizon_ms
        alerts: list[Alert] = []
        entries: list[Entry] = []
        for s in sightings:
            newest = max(newest, s["event_ms"])
            due = self.citizen.decide(alerted, newest, s)
            _put(alerted, due)
            _forget(alerted, newest - cooldown_ms)
            window = self.riot.decide(seen, newest, s)
            _put(seen, window)
            _forget(seen, newest - window_ms)
            episode, riot = self.riot.next_episode(episode, seen, s, now)
            if due:
                alerts += [self.citizen.alert(s, e.citizen, now) for e in due]
                entries += due
            alerts += riot
            entries += window
        return Step(self._frozen(newest, alerted, seen, episode), tuple(alerts), tuple(entries))

    def rebuilt(self, newest_ms: int, episode: Episode, journal: Iterable[Entry]) -> ZoneView:
        """The view a journal replays to: its entries in order, less what is past both horizons."""
        alerted: dict[str, int] = {}
        seen: dict[str, int] = {}
        for entry in journal:
            _put(seen if entry.kind == SEEN else alerted, (entry,))
        return self._frozen(newest_ms, alerted, seen, episode)

    def _frozen(
        self, newest: int, alerted: dict[str, int], seen: dict[str, int], episode: Episode
    ) -> ZoneView:
        _forget(alerted, newest - self.citizen.horizon_ms)
        _forget(seen, newest - self.riot.horizon_ms)
        return ZoneView(newest, MappingProxyType(alerted), MappingProxyType(seen), episode)
