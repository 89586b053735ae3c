"""The sinks people read alerts from: PostgreSQL (the live view), an HTTP webhook, the console.

They run in the delivery worker, which reads the alerts topic, never in the rules worker: a slow
database or a dead webhook cannot delay an alert reaching the topic. Every sink is idempotent on the
alert id (and severity), because delivery is at-least-once: a replay re-sends the same alerts.
PostgreSQL is written at each checkpoint (one batched upsert); the webhook is served by a background
thread that parks what it cannot deliver in a spool file and re-sends it later, in order.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg2
from quixstreams.sinks.base import BaseSink
from rich.console import Console
from rich.markup import escape

from lakehouse import live_alerts
from lakehouse.codec import encode
from lakehouse.schemas import Alert, AlertKind, Severity
from lakehouse.settings import Settings

logger = logging.getLogger("harmony.alerting")


class PostgresAlertSink(BaseSink):
    """Upserts each checkpoint's alerts into the live alerts table."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings
        self._pending: list[Alert] = []
        self._conn: psycopg2.extensions.connection | None = None

    def setup(self) -> None:
        self._conn = live_alerts.connect(self.settings)
        live_alerts.ensure_table(self._conn, self.settings)

    def add(
        self, value: Any, key: Any, timestamp: int, headers: Any, topic: str, partition: int, offset: int
    ) -> None:
        self._pending.append(value)

    def flush(self) -> None:
        if not self._pending:
            return
        if self._conn is None or self._conn.closed:
            self.setup()
        assert self._conn is not None
        try:
            live_alerts.upsert(self._conn, self.settings, self._pending)
        except psycopg2.OperationalError:
            self._conn = None  # reconnect next time; the checkpoint fails and is retried
            raise
        self._pending = []


class WebhookSink(BaseSink):
    """POSTs each alert as JSON; what cannot be delivered is parked on disk and re-sent, in order."""

    def __init__(self, url: str, spool: Path, timeout_s: float, attempts: int, retry_s: float) -> None:
        super().__init__()
        self.url = url
        self.spool = spool
        self.timeout_s = timeout_s
        self.attempts = attempts
        self.retry_s = retry_s
        self.delivered = 0
        self._queue: deque[bytes] = deque()
        self._changes = 0  # queue changes since the spool was last written
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def setup(self) -> None:
        self.spool.parent.mkdir(parents=True, exist_ok=True)
        if self.spool.exists():
            parked = [line for line in self.spool.read_bytes().splitlines() if line.strip()]
            self._queue.extend(parked)
            if parked:
                logger.warning("webhook: re-sending %d parked alerts from %s", len(parked), self.spool)
        self._thread = threading.Thread(target=self._deliver_forever, name="webhook", daemon=True)
        self._thread.start()

    def add(
        self, value: Any, key: Any, timestamp: int, headers: Any, topic: str, partition: int, offset: int
    ) -> None:
        with self._lock:
            self._queue.append(encode(value))
            self._changes += 1
            self._lock.notify()

    def flush(self) -> None:
        """Make everything not yet delivered durable before Kafka offsets are committed."""
        with self._lock:
            if not self._changes:
                return
            pending, self._changes = list(self._queue), 0
        tmp = self.spool.with_suffix(".tmp")
        tmp.write_bytes(b"".join(p + b"\n" for p in pending))
        tmp.replace(self.spool)

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            self._lock.notify()
        if self._thread is not None:
            self._thread.join(5)

    def _post(self, client: httpx.Client, body: bytes) -> bool:
        alert = orjson.loads(body)
        headers = {
            "content-type": "application/json",
            "idempotency-key": f"{alert['alert_id']}:{alert['severity']}",
        }
        for attempt in range(self.attempts):
            try:
                response = client.post(self.url, content=body, headers=headers)
                if response.status_code < 300:
                    return True
                if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
                    logger.error("webhook refused alert %s: HTTP %s", alert["alert_id"], response.status_code)
                    return True  # the receiver rejects it for good: retrying cannot help
            except httpx.HTTPError:
                pass
            time.sleep(min(self.retry_s, 0.1 * 2**attempt))
        return False

    def _deliver_forever(self) -> None:
        with httpx.Client(timeout=self.timeout_s) as client:
            while not self._stop.is_set():
                with self._lock:
                    while not self._queue and not self._stop.is_set():
                        self._lock.wait(1.0)
                    if self._stop.is_set():
                        return
                    body = self._queue[0]
                if self._post(client, body):
                    with self._lock:
                        self._queue.popleft()
                        self._changes += 1
                    self.delivered += 1
                else:
                    # Parked: the webhook is down. The alert stays first in line (order is kept) and is
                    # written to the spool at the next checkpoint; try again later.
                    logger.warning("webhook %s unreachable; %d alerts parked", self.url, len(self._queue))
                    self._stop.wait(self.retry_s)


_STYLE = {
    Severity.LOW: "yellow",
    Severity.MEDIUM: "orange3",
    Severity.HIGH: "red",
    Severity.CRITICAL: "bold red",
}


class ConsoleSink(BaseSink):
    """One line per alert. Stream content is escaped: a citizen's name cannot inject console markup."""

    def __init__(self, console: Console | None = None, riots_only: bool = False) -> None:
        super().__init__()
        self.console = console or Console()
        self.riots_only = riots_only

    def add(
        self, value: Any, key: Any, timestamp: int, headers: Any, topic: str, partition: int, offset: int
    ) -> None:
        alert: Alert = value
        if self.riots_only and alert.kind != AlertKind.RIOT:
            return
        style = _STYLE[alert.severity]
        self.console.print(
            f"[{style}]{alert.severity.value.upper():8}[/] {alert.kind.value:11} {escape(alert.zone):16} "
            f"{alert.event_time:%Y-%m-%d %H:%M:%S} {escape(alert.reason)}",
            highlight=False,
        )

    def flush(self) -> None:
        return None
