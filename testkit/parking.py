"""In-process alert targets for the parking sink (one down until told otherwise, one that cannot take
some alerts), the alerts they are fed and a wait: the sink's tests and the ones that kill its thread."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from alerting.parking import ParkingSink
from lakehouse.schemas import Alert, AlertKind, Severity


def alert(i: int) -> Alert:
    now = datetime(2026, 9, 1, tzinfo=UTC)
    return Alert(
        alert_id=f"a-{i}", kind=AlertKind.RIOT, severity=Severity.HIGH, drone_id="d", zone="harbour",
        citizens=["c"], event_time=now, detected_at=now, reason="test",
    )  # fmt: skip


class Target(ParkingSink):
    """A target that is down until told otherwise, and records what it received, in order."""

    name = "target"

    def __init__(self, spool: Path, limit: int = 1_000, overflow: str = "dead-letter") -> None:
        self.dead: list[tuple[bytes, str]] = []
        super().__init__(spool, limit, retry_s=0.01, dead_letter=self.dead.extend, batch=50)
        self.overflow = overflow  # type: ignore[assignment]
        self.up = False
        self.received: list[str] = []

    def deliver(self, alerts: list[Alert]) -> None:
        if not self.up:
            raise ConnectionError("down")
        self.received += [a.alert_id for a in alerts]


def feed(sink: ParkingSink, start: int, n: int) -> None:
    for i in range(start, start + n):
        sink.add(alert(i), "harbour", 0, None, "alerts", 0, i)


def wait_for(condition: object, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.01)
    raise AssertionError("timed out")


class Picky(Target):
    """A target that cannot take the alerts named in ``poison`` (as psycopg2 cannot take a NUL)."""

    def __init__(self, spool: Path, poison: set[str]) -> None:
        super().__init__(spool)
        self.up = True
        self.poison = poison
        self.calls: list[int] = []

    def deliver(self, alerts: list[Alert]) -> None:
        self.calls.append(len(alerts))
        bad = [a.alert_id for a in alerts if a.alert_id in self.poison]
        if bad:
            raise ValueError(f"A string literal cannot contain NUL (0x00) characters ({bad[0]})")
        self.received += [a.alert_id for a in alerts]
