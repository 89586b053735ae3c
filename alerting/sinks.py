"""The sinks people read alerts from: PostgreSQL (the live view), an HTTP webhook, the console.

They run in the delivery worker, which reads the alerts topic, never in the rules worker: a slow
database or a dead webhook cannot delay an alert reaching the topic. Every sink is idempotent on the
alert id (and severity), because delivery is at-least-once: a replay re-sends the same alerts.
PostgreSQL and the webhook are ``ParkingSink``s (``alerting.parking``): a background thread delivers as
alerts arrive and parks what it cannot deliver in an fsync'ed spool, re-sent in order when the server is
back, so an outage of one never stops the others; the console prints as alerts arrive.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import psycopg2
import psycopg2.errors
import psycopg2.extensions
from quixstreams.sinks.base import BaseSink
from rich.console import Console
from rich.markup import escape

from alerting.parking import ParkingSink
from lakehouse.codec import encode
from lakehouse.query import live_alerts
from lakehouse.schemas import Alert, AlertKind, Severity
from lakehouse.settings import Settings
from lakehouse.terminal import first_line, printable

logger = logging.getLogger("harmony.alerting")
# PostgreSQL errors that say the server (or the table, or this role's rights) is not there for any alert.
# ProgrammingError: a table or column gone, rights revoked, the schema changed under us; none is about one
# alert (what is: psycopg2 refusing a value, or a DataError/IntegrityError of the row).
SERVER_SIDE = (
    psycopg2.OperationalError,
    psycopg2.InterfaceError,
    psycopg2.InternalError,
    psycopg2.ProgrammingError,
)
HEADER_SAFE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")
# HTTP statuses that say the credentials are refused: parked and retried, since they can be fixed.
CREDENTIALS_REFUSED = (401, 403)


class PostgresAlertSink(ParkingSink):
    """Upserts alerts into the live alerts table as they arrive (batched), from the delivery thread.

    While PostgreSQL is away (a restart, an outage) alerts are parked on disk and the other sinks go on;
    past the parking limit the consumer is paused (Quix back-pressure): nothing is dropped."""

    name = "postgres"
    overflow = "backpressure"

    def __init__(
        self,
        settings: Settings,
        spool: Path,
        limit: int,
        retry_s: float,
        dead_letter: Callable[[list[tuple[bytes, str]]], None] | None = None,
    ) -> None:
        super().__init__(spool, limit, retry_s, dead_letter=dead_letter, batch=500)
        self.settings = settings
        self._conn: psycopg2.extensions.connection | None = None

    def deliver(self, alerts: list[Alert]) -> None:
        try:
            if self._conn is None or self._conn.closed:
                self._conn = live_alerts.connect(self.settings)
                live_alerts.ensure_table(self._conn, self.settings)
        except psycopg2.Error as exc:  # connecting is never about one alert
            self.close_target()
            reason = first_line(exc)
            raise ConnectionError(reason) from exc
        try:
            live_alerts.upsert(self._conn, self.settings, alerts)
        except SERVER_SIDE as exc:
            # PostgreSQL away, or the table or its rights gone: the server's state, not the alerts'.
            self.close_target()
            reason = first_line(exc)
            raise ConnectionError(reason) from exc
        except Exception:
            # One of these alerts cannot be stored (psycopg2 refuses NUL, a value the column refuses):
            # the batch is split by the caller to find it; the transaction must not stay aborted.
            if self._conn is not None and not self._conn.closed:
                with contextlib.suppress(psycopg2.Error):
                    self._conn.rollback()
            raise

    def close_target(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg2.Error):
                self._conn.close()
        self._conn = None

    def prepare(self) -> None:
        """Create the live alerts table now, so the dashboard finds one as soon as delivery runs rather
        than at the first alert (a calm city may raise none for hours). On its own connection: the
        delivery thread owns the sink's. PostgreSQL away at start is no reason to stop: the first
        delivery creates the table, as before."""
        try:
            conn = live_alerts.connect(self.settings)
            try:
                live_alerts.ensure_table(conn, self.settings)
            finally:
                conn.close()
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
            reason = first_line(exc)
            logger.warning(
                "PostgreSQL is unreachable (%s): the alerts table waits for the first alert", reason
            )


class AlertRefused(Exception):
    """The target answered that it will never take this alert (dead-lettered with the reason)."""


def header_value(text: str) -> str:
    """A value safe in an HTTP header whatever the alert holds: printable ASCII (space included) stays as
    it is, anything else (CR and LF among it) is percent-encoded UTF-8, so the header is one line and
    httpx never refuses to send it; ``%`` itself is encoded, so ``unquote`` gives the text back."""
    return quote(text, safe=HEADER_SAFE)


class WebhookSink(ParkingSink):
    """POSTs each alert as JSON (idempotency key: alert id and severity); parked on disk while the hook
    is down, re-sent in order; past the parking limit the oldest go to the dead-letter topic."""

    name = "webhook"
    overflow = "dead-letter"

    def __init__(
        self,
        url: str,
        spool: Path,
        timeout_s: float,
        attempts: int,
        retry_s: float,
        limit: int,
        dead_letter: Callable[[list[tuple[bytes, str]]], None] | None = None,
    ) -> None:
        super().__init__(spool, limit, retry_s, dead_letter=dead_letter)
        self.url = url
        self.timeout_s = timeout_s
        self.attempts = attempts
        self._client: httpx.Client | None = None

    def deliver(self, alerts: list[Alert]) -> None:
        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout_s)
        for alert in alerts:
            self._post(self._client, alert)

    def close_target(self) -> None:
        if self._client is not None:
            self._client.close()
        self._client = None

    def _post(self, client: httpx.Client, alert: Alert) -> None:
        body = encode(alert)
        headers = {
            "content-type": "application/json",
            "idempotency-key": header_value(f"{alert.alert_id}:{alert.severity.value}"),
        }
        problem = ""
        for attempt in range(self.attempts):
            try:
                response = client.post(self.url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                status = response.status_code
                if status < 300:
                    return
                if status in CREDENTIALS_REFUSED:
                    # Every alert would be refused until someone fixes the token: the hook is "away".
                    raise ConnectionError(f"{self.url}: HTTP {status} (credentials refused)")
                if 400 <= status < 500 and status not in (408, 429):
                    # This alert is refused for good: retrying cannot help, and parking would block every
                    # alert behind it. Dead-lettered with the status and the start of the body.
                    raise AlertRefused(f"HTTP {status}: {printable(response.text[:300])}")
                problem = f"HTTP {status}"
            time.sleep(min(self.retry_s, 0.1 * 2**attempt))
        raise ConnectionError(f"{self.url}: {problem}")


_STYLE = {
    Severity.LOW: "yellow",
    Severity.MEDIUM: "orange3",
    Severity.HIGH: "red",
    Severity.CRITICAL: "bold red",
}


class ConsoleSink(BaseSink):
    """One line per alert. Stream content is escaped twice: a zone or a name can neither inject console
    markup (rich's ``escape``) nor terminal control sequences (``lakehouse.terminal.printable``)."""

    def __init__(self, console: Console | None = None, riots_only: bool = False) -> None:
        super().__init__()
        self.console = console or Console()
        self.riots_only = riots_only

    def add(
        self, value: Any, key: Any, timestamp: int, headers: Any, topic: str, partition: int, offset: int
    ) -> None:
        alert: Alert = value
        if self.riots_only and alert.kind == AlertKind.LOW_HARMONY:
            return
        style = _STYLE[alert.severity]
        self.console.print(
            f"[{style}]{alert.severity.value.upper():8}[/] {alert.kind.value:11} "
            f"{escape(printable(alert.zone)):16} {alert.event_time:%Y-%m-%d %H:%M:%S} "
            f"{escape(printable(alert.reason))}",
            highlight=False,
            markup=True,
            emoji=False,  # ":smile:" in a name stays those seven characters
        )

    def flush(self) -> None:
        return None
