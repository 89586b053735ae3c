"""The zone rules written again from their specification, as plainly as possible, sharing nothing with
``alerting.rules`` but the contract: the reference the product's rules and journal must agree with,
sighting for sighting, whatever the restarts (tests/alerting/test_zone_state.py).

Each window is a list of ``[citizen, ms]`` pairs in arrival order: a sighting moves its citizen to the
end; forgetting pops from the front while the first pair is at or before the horizon. The state of a
zone is the one JSON document the rules kept before the journal (``{"citizens": ..., "riot": ...}``),
so it doubles as the stored form the journal migrates from.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lakehouse.schemas import Alert, AlertKind, Severity
from lakehouse.settings import RuleSettings

ORDER = ["low", "medium", "high", "critical"]


def _moved_to_end(pairs: list[list[Any]], citizen: str, ms: int) -> list[list[Any]]:
    return [p for p in pairs if p[0] != citizen] + [[citizen, ms]]


def _lookup(pairs: list[list[Any]], citizen: str) -> int | None:
    found = [p[1] for p in pairs if p[0] == citizen]
    return found[0] if found else None


def _forgotten(pairs: list[list[Any]], horizon: int) -> list[list[Any]]:
    i = 0
    while i < len(pairs) and pairs[i][1] <= horizon:
        i += 1
    return pairs[i:]


class ZoneRules:
    """``apply(doc, sighting, now) -> (doc, alerts)``: the citizen cool-down, then the riot window."""

    def __init__(self, rules: RuleSettings) -> None:
        self.threshold = rules.low_harmony_threshold
        self.cooldown = int(rules.citizen_cooldown_minutes * 60_000)
        self.window = int(rules.riot_window_minutes * 60_000)
        self.minutes = rules.riot_window_minutes
        self.minimum = rules.riot_min_citizens

    def apply(self, doc: dict[str, Any] | None, s: Any, now: datetime) -> tuple[dict[str, Any], list[Alert]]:
        t = s["event_ms"]
        citizens = (doc or {}).get("citizens") or {"newest_ms": t, "alerted": {}}
        riot = (doc or {}).get("riot") or {"newest_ms": t, "seen": {}, "episode": None}
        alerts: list[Alert] = []

        newest = max(t, citizens["newest_ms"])
        alerted = [[c, ms] for c, ms in citizens["alerted"].items()]
        if t > newest - self.cooldown:
            for low in s["lows"]:
                last = _lookup(alerted, low["citizen_id"])
                if last is None or t - last >= self.cooldown:
                    alerted = _moved_to_end(alerted, low["citizen_id"], t)
                    alerts.append(self.low_alert(s, low, now))
        alerted = _forgotten(alerted, newest - self.cooldown)
        citizens = {"newest_ms": newest, "alerted": {c: ms for c, ms in alerted}}

        newest = max(t, riot["newest_ms"])
        seen = [[c, ms] for c, ms in riot["seen"].items()]
        if t > newest - self.window:
            for low in s["lows"]:
                last = _lookup(seen, low["citizen_id"])
                seen = _moved_to_end(seen, low["citizen_id"], t if last is None or last < t else last)
        seen = _forgotten(seen, newest - self.window)
        episode = riot["episode"]
        if len(seen) < self.minimum:
            episode = None
        else:
            times = len(seen) // self.minimum  # 1, 2, 3 or more times the minimum
            severity = ORDER[min(times, 3)]
            if episode is None or ORDER.index(severity) > ORDER.index(episode["severity"]):
                if episode is None:
                    episode = {"alert_id": f"riot-{s['zone']}-{t}", "start_ms": t}
                episode = {**episode, "severity": severity}
                alerts.append(self.riot_alert(s, episode, sorted(c for c, _ in seen), now))
        riot = {"newest_ms": newest, "seen": {c: ms for c, ms in seen}, "episode": episode}
        return {"citizens": citizens, "riot": riot}, alerts

    def low_alert(self, s: Any, low: Any, now: datetime) -> Alert:
        return Alert(
            alert_id=f"low-{low['citizen_id']}-{s['event_ms']}",
            kind=AlertKind.LOW_HARMONY,
            severity=Severity.MEDIUM if 2 * low["harmony_score"] < self.threshold else Severity.LOW,
            drone_id=s["drone_id"],
            zone=s["zone"],
            citizens=[low["citizen_id"]],
            event_time=datetime.fromtimestamp(s["event_ms"] / 1000, UTC),
            detected_at=now,
            reason=f"{low['name']} ({low['citizen_id']}) scored {low['harmony_score']:.1f}, "
            f"below {self.threshold:g}",
        )

    def riot_alert(self, s: Any, episode: dict[str, Any], window: list[str], now: datetime) -> Alert:
        return Alert(
            alert_id=episode["alert_id"],
            kind=AlertKind.RIOT,
            severity=Severity(episode["severity"]),
            drone_id=s["drone_id"],
            zone=s["zone"],
            citizens=window,
            event_time=datetime.fromtimestamp(episode["start_ms"] / 1000, UTC),
            detected_at=now,
            reason=f"{len(window)} citizens below {self.threshold:g} in {s['zone']} "
            f"within {self.minutes:g} minutes",
        )
