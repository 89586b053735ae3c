"""Delivery that rides out an outage: alerts are handed to a background thread and, while the target is
down, parked in an append-only, fsync'ed spool on disk, then re-sent in order when it is back.

``ParkingSink`` is the base of every sink a person reads alerts from through a server (PostgreSQL, a
webhook): the poll loop never waits for that server, one sink being down does not stop the others, and a
crash loses nothing. The protocol, at each Quix checkpoint (``flush``), before Kafka offsets are committed:

1. every alert added since the last checkpoint and not yet delivered is appended to the spool and fsync'ed
   (an alert already delivered is never written: a healthy target costs no disk I/O);
2. if more than ``limit`` alerts are parked, the sink's ``overflow`` policy applies: ``"dead-letter"``
   sends the oldest to the dead-letter topic with the reason (never silently dropped), ``"backpressure"``
   raises Quix's ``SinkBackpressureError`` so the consumer pauses and replays this checkpoint later.

The delivery thread takes alerts from the head, in order; what it delivers is acknowledged, and the spool
file is truncated when everything in it is acknowledged (or rewritten, rarely, when a long backlog drains).
A restart re-sends what the spool holds; delivery is at-least-once and every target is idempotent on the
alert id, so a re-send changes nothing a person sees. An alert the target cannot take (anything but the
target being away) never blocks the ones behind it: the batch is split to find it, and it goes to the
dead-letter topic with the sink and the reason. Should the delivery thread itself die, the process stops
with one log line and a non-zero exit (``lakehouse.stopping.background``): never a silent stall.
"""

from __future__ import annotations

import abc
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from quixstreams.sinks.base import BaseSink, SinkBackpressureError

from lakehouse.codec import ContractError, decode, encode
from lakehouse.private_files import open_private, private_dir, repair, write_private
from lakehouse.schemas import Alert
from lakehouse.stopping import background
from lakehouse.terminal import first_line, printable

logger = logging.getLogger("harmony.alerting")

Overflow = Literal["dead-letter", "backpressure"]


@dataclass
class _Entry:
    alert: Alert
    body: bytes  # the alert in its wire format, as the spool holds it
    spooled: bool = False


class Spool:
    """The on-disk part of a parking queue: an append-only JSON-lines file of alerts not yet delivered.

    The file holds ``acked`` delivered lines at its head, then the undelivered ones in order."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines = 0
        self.acked = 0

    def load(self) -> list[bytes]:
        """The parked alerts left by a previous run, in order."""
        private_dir(self.path.parent)
        if not self.path.exists():
            return []
        repair(self.path)  # citizens' names and ids: a spool left open by an older run is closed
        parked = [line for line in self.path.read_bytes().splitlines() if line.strip()]
        self.lines, self.acked = len(parked), 0
        return parked

    def append(self, bodies: list[bytes]) -> None:
        with open_private(self.path, append=True) as f:
            f.write(b"".join(b + b"\n" for b in bodies))
            f.flush()
            os.fsync(f.fileno())
        self.lines += len(bodies)

    def ack(self, n: int, remaining: Callable[[], list[bytes]]) -> None:
        """``n`` more lines from the head were delivered; shrink the file when that is cheap."""
        self.acked += n
        if self.acked >= self.lines:
            open_private(self.path).close()  # everything delivered: start afresh
            self.lines = self.acked = 0
        elif self.acked >= 10_000 and self.acked * 2 >= self.lines:
            rest = remaining()  # a long backlog drained half-way: drop the delivered head once
            write_private(self.path, b"".join(b + b"\n" for b in rest))
            self.lines, self.acked = len(rest), 0


class ParkingSink(BaseSink, abc.ABC):
    """Base of the sinks that deliver alerts to a server in a background thread, parking them on disk."""

    name: str = "sink"
    overflow: Overflow = "dead-letter"

    def __init__(
        self,
        spool: Path,
        limit: int,
        retry_s: float,
        dead_letter: Callable[[list[tuple[bytes, str]]], None] | None = None,
        batch: int = 1,
    ) -> None:
        super().__init__()
        self.spool = Spool(spool)
        self.limit = limit
        self.retry_s = retry_s
        self.batch = batch
        self.dead_letter = dead_letter
        self.delivered = 0
        self.refused = 0  # alerts the target cannot take (dead-lettered)
        self.overflowed = 0
        self.down_since: float | None = None
        self._queue: deque[_Entry] = deque()
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- what an implementation provides ---------------------------------------------------------------
    @abc.abstractmethod
    def deliver(self, alerts: list[Alert]) -> None:
        """Deliver these alerts, in order; raise ``ConnectionError`` (or ``OSError``) while the target is
        unreachable (they are parked and re-sent). Any other exception means the target cannot take one of
        them: the batch is split to find it, and that alert goes to the dead-letter topic with the reason."""

    def close_target(self) -> None:
        """Release whatever ``deliver`` holds open."""

    # -- Quix's sink interface ----------------------------------------------------------------------------
    def setup(self) -> None:
        parked = []
        for body in self.spool.load():
            try:
                parked.append(_Entry(decode(Alert, body), body, spooled=True))
            except ContractError as exc:  # a spool edited by hand: say so, keep going
                logger.error(
                    "%s: unreadable parked alert skipped (%s): %r", self.name, printable(exc), body[:200]
                )
        self._queue.extend(parked)
        if parked:
            logger.warning("%s: re-sending %d parked alerts from %s", self.name, len(parked), self.spool.path)
        self._thread = background(self._deliver_forever, f"{self.name}-delivery")

    def add(
        self, value: Any, key: Any, timestamp: int, headers: Any, topic: str, partition: int, offset: int
    ) -> None:
        with self._lock:
            self._queue.append(_Entry(value, encode(value)))
            self._lock.notify()

    def flush(self) -> None:
        """Make every undelivered alert durable before Kafka offsets are committed (steps 1 and 2)."""
        with self._lock:
            fresh = self._fresh()
            overflow = len(self._queue) - self.limit
            if overflow > 0 and self.overflow == "backpressure":
                # Step 2 (backpressure): take back what this checkpoint added; Quix replays it later.
                self._take_back(fresh)
                raise SinkBackpressureError(retry_after=self.retry_s)
            # Step 1: park what is not delivered yet.
            if fresh:
                self.spool.append([e.body for e in fresh])
                for e in fresh:
                    e.spooled = True
            # Step 2 (dead-letter): beyond the limit, the oldest go to the dead-letter topic, and leave the
            # spool only once the dead letters are acknowledged (a failure raises: they stay parked).
            dropped = list(self._queue)[: max(0, overflow)]
            if dropped:
                reason = f"{self.name} unreachable: its parking limit of {self.limit} alerts was reached"
                if self.dead_letter is not None:
                    self.dead_letter([(e.body, reason) for e in dropped])
                for _ in dropped:
                    self._queue.popleft()
                self.spool.ack(len(dropped), self._spooled_bodies)
        if dropped:
            self.overflowed += len(dropped)
            logger.error("%s: %d parked alerts dead-lettered (%s)", self.name, len(dropped), reason)

    def on_paused(self) -> None:
        """Another sink made Quix pause and replay this checkpoint: take back what it added here, since
        the replay adds it again."""
        with self._lock:
            self._take_back(self._fresh())

    def _fresh(self) -> list[_Entry]:
        """The entries never spooled: the queue's tail (the head is spooled, or was delivered first)."""
        fresh: list[_Entry] = []
        for e in reversed(self._queue):
            if e.spooled:
                break
            fresh.append(e)
        fresh.reverse()
        return fresh

    def _take_back(self, fresh: list[_Entry]) -> None:
        for _ in fresh:
            self._queue.pop()

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            self._lock.notify()
        if self._thread is not None:
            self._thread.join(5)
        self.close_target()

    @property
    def parked(self) -> int:
        with self._lock:
            return len(self._queue)

    # -- the delivery thread ----------------------------------------------------------------------------
    def _spooled_bodies(self) -> list[bytes]:
        return [e.body for e in self._queue if e.spooled]

    def _deliver_forever(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                while not self._queue and not self._stop.is_set():
                    self._lock.wait(1.0)
                if self._stop.is_set():
                    return
                head = [self._queue[i] for i in range(min(self.batch, len(self._queue)))]
            try:
                refused = self._deliver_isolating(head)
            except (ConnectionError, OSError) as exc:
                self.close_target()
                if self.down_since is None:
                    self.down_since = time.monotonic()
                    logger.warning("%s unreachable (%s); parking alerts and retrying every %.1fs",
                                   self.name, exc, self.retry_s)  # fmt: skip
                self._stop.wait(self.retry_s)
                continue
            if self.down_since is not None:
                logger.warning(
                    "%s reachable again after %.1fs", self.name, time.monotonic() - self.down_since
                )
                self.down_since = None
            if refused:
                self._refuse(refused)
            with self._lock:
                acked = 0
                for e in head:
                    if self._queue and self._queue[0] is e:  # not dropped meanwhile (step 2)
                        self._queue.popleft()
                        acked += e.spooled
                if acked:
                    self.spool.ack(acked, self._spooled_bodies)
            self.delivered += len(head) - len(refused)

    def _deliver_isolating(self, head: list[_Entry]) -> list[tuple[_Entry, str]]:
        """Deliver ``head``; the alerts the target cannot take (any error but its absence), found by
        splitting the batch, with the reason. ``ConnectionError``/``OSError`` pass through."""
        try:
            self.deliver([e.alert for e in head])
            return []
        except (ConnectionError, OSError):
            raise
        except Exception as exc:
            if len(head) == 1:
                return [(head[0], f"{type(exc).__name__}: {first_line(exc, 500)}")]
        half = len(head) // 2
        return self._deliver_isolating(head[:half]) + self._deliver_isolating(head[half:])

    def _refuse(self, refused: list[tuple[_Entry, str]]) -> None:
        """Alerts the target cannot take: dead-lettered (one acknowledged batch) with the sink and the
        reason; the next go on."""
        letters = [(e.body, f"{self.name} cannot take this alert: {reason}") for e, reason in refused]
        for (entry, _), (_, reason) in zip(refused, letters, strict=True):
            logger.error("%s; alert %s dead-lettered", printable(reason), printable(entry.alert.alert_id))
        self.refused += len(refused)
        if self.dead_letter is not None:
            self.dead_letter(letters)
