"""Each zone's rule state in Quix's store as a journal, so that persisting a sighting costs O(1).

The rules are a pure function over a frozen :class:`~alerting.rules.ZoneView`; this is their imperative
shell, which keeps the newest view of each zone in memory and persists what the rules changed. The store
holds, under the zone's key, a small *head* and the *journal*: the rules' changes, in order, in chunks
of ``CHUNK`` entries. A sighting (or a run of one zone's sightings) rewrites the head and the journal's
open chunk, never the window. When the journal has grown to several times the view, it is compacted
(the view written out as a new journal, the old chunks deleted): amortised, still O(1) per sighting, and
a rebuild reads a journal no longer than a few views.

The view in memory is trusted only while the store says it is the one this store wrote last: the head
names its writer (a token per ``ZoneStore``, so per built application) and a sequence number. A
partition given back after another worker had it, a restart, a checkpoint that failed and was replayed
(the application is rebuilt), or an error in the middle of a step all leave a head that does not match,
and the view is rebuilt from the journal: restart-safety is the store's, as before, since Quix commits
the store (and its changelog topic) with the offsets.

Store layout under a zone key::

    "head"  {"owner", "seq", "newest_ms", "episode", "first", "last", "entries"}
    "j:<n>" [[kind, citizen, ms], ...] for first <= n <= last, at most CHUNK entries each
    "rules" the state of the version before the journal (one JSON document): read once, migrated
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain
from typing import Any, Protocol

from alerting.rules import ALERTED, CALM, NEVER, SEEN, Entry, Episode, Riot, Sighting, ZoneRules, ZoneView
from lakehouse.schemas import Alert, Severity

HEAD = "head"
LEGACY_KEY = "rules"
CHUNK = 64
COMPACT_FACTOR = 4  # compact when the journal holds this many entries per entry of the view (+ CHUNK)


class KeyValueState(Protocol):
    """What this module uses of Quix's ``State`` (one message key's slice of the store)."""

    def get(self, key: Any, default: Any = None) -> Any: ...
    def set(self, key: Any, value: Any) -> None: ...
    def delete(self, key: Any) -> None: ...


def _chunk_key(n: int) -> str:
    return f"j:{n}"


def episode_doc(episode: Episode) -> dict[str, Any] | None:
    """The episode as the head stores it (the form every version before this one wrote)."""
    match episode:
        case Riot(alert_id, start_ms, severity):
            return {"alert_id": alert_id, "start_ms": start_ms, "severity": severity.value}
        case _:
            return None


def episode_of(doc: dict[str, Any] | None) -> Episode:
    if doc is None:
        return CALM
    return Riot(str(doc["alert_id"]), int(doc["start_ms"]), Severity(doc["severity"]))


@dataclass
class _Cached:
    view: ZoneView
    seq: int
    first: int
    last: int
    entries: int  # in the journal, compacted or not
    # the journal's chunk ``last``, as stored: plain triples (a NamedTuple is not JSON to every encoder)
    open_chunk: list[tuple[int, str, int]] = field(default_factory=list)


class ZoneStore:
    """Runs the zone rules on the zone's view and journals their changes in the zone's state."""

    def __init__(self, rules: ZoneRules) -> None:
        self.rules = rules
        self.token = uuid.uuid4().hex
        self._views: dict[str, _Cached] = {}
        self.rebuilds = 0
        self.compactions = 0

    def apply(self, state: KeyValueState, s: Sighting, now: datetime) -> list[Alert]:
        return self.apply_many(state, [s], now)

    def apply_many(self, state: KeyValueState, sightings: list[Sighting], now: datetime) -> list[Alert]:
        """Run the rules on one zone's sightings, in order, and persist what they changed once."""
        if not sightings:
            return []
        zone = sightings[0]["zone"]
        # 1. The head says who wrote this zone last and how far: a view of ours at that point is current.
        head = state.get(HEAD)
        cached = self._views.get(zone)
        if cached is None or head is None or head["owner"] != self.token or head["seq"] != cached.seq:
            # 2. Otherwise (first sighting here, another worker had the zone, a replay) rebuild it.
            cached = self._views[zone] = self._rebuild(state, head)
        # 3. From here until step 6 the view runs ahead of the store: an error in between leaves a head
        #    whose seq does not match, and the next sighting rebuilds the view from the journal.
        cached.seq += 1
        step = self.rules.fold(cached.view, sightings, now)
        cached.view = step.view
        # 4. Append the changes to the journal's open chunk (a full chunk stays; a new one opens).
        if step.entries:
            self._append(state, cached, step.entries)
        # 5. A journal grown to several views is replaced by the view itself (amortised O(1)).
        live = len(cached.view.seen) + len(cached.view.alerted)
        if cached.entries > COMPACT_FACTOR * live + CHUNK:
            self._compact(state, cached)
        # 6. The head last: it makes the view current again.
        self._write_head(state, cached)
        return list(step.alerts)

    def _append(self, state: KeyValueState, cached: _Cached, changes: Sequence[Entry]) -> None:
        for entry in changes:
            cached.open_chunk.append((entry.kind, entry.citizen, entry.ms))
            if len(cached.open_chunk) == CHUNK:  # written once, full; the next entries open a new chunk
                state.set(_chunk_key(cached.last), cached.open_chunk)
                cached.last += 1
                cached.open_chunk = []
        cached.entries += len(changes)
        if cached.open_chunk:
            state.set(_chunk_key(cached.last), cached.open_chunk)

    def _compact(self, state: KeyValueState, cached: _Cached) -> None:
        view = cached.view
        entries = [Entry(ALERTED, cid, ms) for cid, ms in view.alerted.items()]
        entries += [Entry(SEEN, cid, ms) for cid, ms in view.seen.items()]
        old_first, old_last = cached.first, cached.last
        cached.first = cached.last = old_last + 1
        cached.entries, cached.open_chunk = 0, []
        self._append(state, cached, entries)
        for n in range(old_first, old_last + 1):
            state.delete(_chunk_key(n))
        self.compactions += 1

    def _write_head(self, state: KeyValueState, cached: _Cached) -> None:
        state.set(
            HEAD,
            {
                "owner": self.token,
                "seq": cached.seq,
                "newest_ms": cached.view.newest_ms,
                "episode": episode_doc(cached.view.episode),
                "first": cached.first,
                "last": cached.last,
                "entries": cached.entries,
            },
        )

    def _rebuild(self, state: KeyValueState, head: dict[str, Any] | None) -> _Cached:
        self.rebuilds += 1
        if head is None:
            legacy = state.get(LEGACY_KEY)
            if legacy is None:
                return _Cached(ZoneView(), seq=0, first=0, last=0, entries=0)
            return self._migrate(state, legacy)
        chunks = [
            [Entry(e[0], e[1], e[2]) for e in state.get(_chunk_key(n), [])]
            for n in range(head["first"], head["last"] + 1)
        ]
        newest = NEVER if head["newest_ms"] is None else head["newest_ms"]
        view = self.rules.rebuilt(newest, episode_of(head["episode"]), chain.from_iterable(chunks))
        open_chunk = [(e.kind, e.citizen, e.ms) for e in chunks[-1]] if chunks else []
        return _Cached(view, head["seq"], head["first"], head["last"], head["entries"], open_chunk)

    def _migrate(self, state: KeyValueState, legacy: dict[str, Any]) -> _Cached:
        """The one-document state of the version before: its maps, in their order, as a new journal."""
        citizens, riot = legacy.get("citizens") or {}, legacy.get("riot") or {}
        newest = max([v["newest_ms"] for v in (citizens, riot) if v], default=NEVER)
        journal = [Entry(ALERTED, cid, ms) for cid, ms in (citizens.get("alerted") or {}).items()]
        journal += [Entry(SEEN, cid, ms) for cid, ms in (riot.get("seen") or {}).items()]
        view = self.rules.rebuilt(newest, episode_of(riot.get("episode")), journal)
        cached = _Cached(view, seq=0, first=0, last=0, entries=0)
        self._compact(state, cached)
        state.delete(LEGACY_KEY)
        return cached
