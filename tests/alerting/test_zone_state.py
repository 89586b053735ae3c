"""The journalled zone state against the reference rules (``reference_rules``: written again from the
specification, sharing no helper with the product, one JSON document per zone): the same alerts,
sighting for sighting, through restarts, replays after a failed checkpoint, compactions and the migration
of the old state; and what a sighting writes does not grow with the window."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from alerting.rules import LowCitizen, Sighting, ZoneRules
from alerting.zone_state import CHUNK, HEAD, LEGACY_KEY, ZoneStore
from lakehouse.schemas import Alert
from lakehouse.settings import RuleSettings
from testkit.state import DictState
from tests.alerting import reference_rules

RULES = RuleSettings(
    low_harmony_threshold=30, riot_min_citizens=4, riot_window_minutes=5, citizen_cooldown_minutes=10
)
NOW = datetime(2026, 9, 1, tzinfo=UTC)
MIN = 60_000


def key(a: Alert) -> tuple[str, str, str, tuple[str, ...]]:
    return (a.alert_id, a.kind.value, a.severity.value, tuple(a.citizens))


class Reference:
    """The reference rules, one JSON document per zone."""

    def __init__(self) -> None:
        self.rules = reference_rules.ZoneRules(RULES)
        self.docs: dict[str, Any] = {}

    def apply(self, s: Sighting) -> list[Alert]:
        doc, alerts = self.rules.apply(self.docs.get(s["zone"]), s, NOW)
        self.docs[s["zone"]] = orjson.loads(orjson.dumps(doc))
        return alerts


class Journalled:
    """The rules of now: a ZoneStore (one per worker life) over each zone's store slice."""

    def __init__(self) -> None:
        self.store = ZoneStore(ZoneRules(RULES))
        self.states: dict[str, DictState] = {}
        self.lives: list[ZoneStore] = [self.store]

    def apply(self, s: Sighting) -> list[Alert]:
        return self.store.apply(self.states.setdefault(s["zone"], DictState()), s, NOW)

    def restart(self) -> None:
        self.store = ZoneStore(ZoneRules(RULES))
        self.lives.append(self.store)


def sighting_at(t: int, zone: str, citizens: list[str]) -> Sighting:
    lows = [LowCitizen(citizen_id=c, name=c.upper(), harmony_score=10.0) for c in citizens]
    return Sighting(zone=zone, drone_id="d", report_id="r", event_ms=t, lows=lows)


@st.composite
def streams(draw: st.DrawFn) -> list[tuple[str, Sighting]]:
    """Sightings in near time order (partitions skew by up to 2 minutes, sometimes far more), with
    restarts, and replays of the last few sightings after a checkpoint that did not land."""
    n = draw(st.integers(1, 120))
    t, out = 0, []
    for _ in range(n):
        t += draw(st.integers(0, 90_000))
        skew = draw(st.sampled_from([0, 0, 0, -30_000, -120_000, -40 * MIN]))
        citizens = draw(st.lists(st.sampled_from([f"c{i}" for i in range(12)]), min_size=1, max_size=4))
        op = draw(st.sampled_from(["go"] * 8 + ["restart", "replay"]))
        out.append((op, sighting_at(max(0, t + skew), draw(st.sampled_from(["A", "B"])), citizens)))
    return out


@settings(max_examples=300, deadline=None)
@given(streams())
def test_the_journal_raises_what_the_one_document_state_raised(stream: list[tuple[str, Sighting]]) -> None:
    ref, new = Reference(), Journalled()
    checkpoint: dict[str, dict[str, bytes]] = {}
    ref_checkpoint: dict[str, Any] = {}
    since: list[Sighting] = []
    for op, s in stream:
        if op == "restart":
            new.restart()
        if op == "replay":
            # The checkpoint failed: the store goes back to the last one and the sightings since are
            # processed again by the same store object; they must raise the same alerts again.
            for zone, state in new.states.items():
                state.data = dict(checkpoint.get(zone, {}))
            ref.docs = copy.deepcopy(ref_checkpoint)
            again = [key(a) for x in since for a in new.apply(x)]
            assert again == [key(a) for x in since for a in ref.apply(x)]
        else:
            checkpoint = {z: dict(state.data) for z, state in new.states.items()}
            ref_checkpoint, since = copy.deepcopy(ref.docs), []
        assert [key(a) for a in new.apply(s)] == [key(a) for a in ref.apply(s)]
        since.append(s)


def test_a_long_flood_compacts_and_a_rebuilt_view_continues_where_it_was() -> None:
    ref, new = Reference(), Journalled()
    citizens = [f"c{i}" for i in range(30)]
    for i in range(3000):
        s = sighting_at(i * 700, "A", [citizens[i % 30], citizens[(i * 7) % 30]])
        assert [key(a) for a in new.apply(s)] == [key(a) for a in ref.apply(s)]
        if i % 500 == 499:
            new.restart()
    assert sum(x.compactions for x in new.lives) > 0 and sum(x.rebuilds for x in new.lives) == 6
    head = new.states["A"].get(HEAD)
    assert head["entries"] <= 4 * 60 + 2 * CHUNK, "the journal stays a few views long"
    assert len(new.states["A"].data) <= 2 + head["entries"] // CHUNK + 1, "old chunks are deleted"


def test_the_one_document_state_of_before_is_migrated() -> None:
    ref = Reference()
    first = [sighting_at(i * 20_000, "A", [f"c{i % 9}", f"c{(i * 5) % 9}"]) for i in range(40)]
    then = [sighting_at(800_000 + i * 20_000, "A", [f"c{i % 11}"]) for i in range(40)]
    for s in first:
        ref.apply(s)
    new = Journalled()
    new.states["A"] = DictState()
    new.states["A"].set(LEGACY_KEY, ref.docs["A"])
    expected = [key(a) for s in then for a in ref.apply(s)]
    assert expected, "the second half raises something to compare"
    assert [key(a) for s in then for a in new.apply(s)] == expected
    assert LEGACY_KEY not in new.states["A"].data


def test_a_sighting_writes_what_it_changed_not_the_window() -> None:
    """A flood: 3,000 agitated citizens in the zone's window. The one-document state wrote the whole
    window for every sighting; the journal writes the head and a chunk of at most CHUNK entries."""
    rules = RuleSettings(riot_min_citizens=10, riot_window_minutes=5, citizen_cooldown_minutes=30)
    store, state, ref = ZoneStore(ZoneRules(rules)), DictState(), reference_rules.ZoneRules(rules)
    doc: Any = None
    for i in range(3000):
        s = sighting_at(i * 50, "A", [f"c{i}"])
        store.apply(state, s, NOW)
        doc, _ = ref.apply(doc, s, NOW)
    whole = len(orjson.dumps(doc))
    before = state.written
    for i in range(3000, 3100):
        store.apply(state, sighting_at(i * 50, "A", [f"c{i % 3000}"]), NOW)
    per_sighting = (state.written - before) / 100
    assert whole > 50_000 and per_sighting < 4_000, (whole, per_sighting)


@settings(max_examples=200, deadline=None)
@given(streams(), st.lists(st.integers(1, 9), min_size=1, max_size=40))
def test_a_zone_run_of_sightings_raises_what_they_raise_one_by_one(
    stream: list[tuple[str, Sighting]], cuts: list[int]
) -> None:
    """The rules worker hands a zone the sightings of one run of reports together (``apply_many``): each
    zone gets the same alerts in the same order, and its journal the same view, as one at a time."""
    one, many = Journalled(), Journalled()
    sightings = [s for _, s in stream]
    expected = [(a.zone, key(a)) for s in sightings for a in one.apply(s)]
    got, i, c = [], 0, 0
    while i < len(sightings):
        size = cuts[c % len(cuts)]
        run, i, c = sightings[i : i + size], i + size, c + 1
        by_zone: dict[str, list[Sighting]] = {}
        for s in run:
            by_zone.setdefault(s["zone"], []).append(s)
        for zone, mine in by_zone.items():
            state = many.states.setdefault(zone, DictState())
            got += [(a.zone, key(a)) for a in many.store.apply_many(state, mine, NOW)]
    for zone in ("A", "B"):
        assert [k for z, k in got if z == zone] == [k for z, k in expected if z == zone]
    # workers that start again rebuild the same views from either journal
    one.restart()
    many.restart()
    last = sightings[-1]
    probe = sighting_at(last["event_ms"] + 1, last["zone"], ["c0", "c1", "c2", "c3", "c4"])
    assert [key(a) for a in one.apply(probe)] == [key(a) for a in many.apply(probe)]
