"""The message contract: one pydantic definition per message type.

Everything else is derived from these classes: the JSON codec and its validation (``lakehouse.codec``),
the Iceberg and Arrow schemas (``lakehouse.derive``). Add an optional field here and every consumer,
table and engine follows.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, Strict

REPORT_SCHEMA_VERSION = 2  # 2: the optional `event` (drone failures and maintenance)
ALERT_SCHEMA_VERSION = 1

# The one time format the wire accepts: RFC 3339 with an upper-case ``T``, seconds, an optional fraction
# (truncated to milliseconds) and a mandatory offset. Dates, naive times, spaces and epoch numbers are
# refused. Its named groups are read by the vectorised decoder too (``lakehouse.batch_codec``).
RFC3339 = re.compile(
    r"^(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})"
    r"T(?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2})(?:\.(?P<fraction>\d{1,9}))?"
    r"(?:(?P<z>Z)|(?P<sign>[+-])(?P<off_h>\d{2}):(?P<off_m>\d{2}))$",
    re.ASCII,  # digits are 0-9 only, as in RE2 (Arrow's regex engine)
)


def _rfc3339(value: Any) -> Any:
    """Parse a wire timestamp; a ``datetime`` passes (messages built in Python), anything else is refused."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not RFC3339.match(value):
        raise ValueError("timestamp must be an RFC 3339 string such as 2026-01-31T23:59:59.999Z")
    return datetime.fromisoformat(value)  # ValueError (a day or offset out of range) is a contract error


def _utc_ms(value: datetime) -> datetime:
    """Event times are UTC with millisecond precision; naive times are refused, not guessed."""
    if value.tzinfo is None:
        raise ValueError("timestamp must carry a timezone (UTC)")
    try:
        value = value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("timestamp out of range once converted to UTC") from exc
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _wire_time(value: datetime) -> str:
    """The one wire format for time: RFC 3339, UTC, always three fractional digits, ``Z``."""
    v = value.astimezone(UTC)  # every field zero-padded: strftime writes year 999 as "999", not RFC 3339
    return (
        f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:{v.second:02d}"
        f".{v.microsecond // 1000:03d}Z"
    )


UtcMillis = Annotated[
    datetime,
    BeforeValidator(_rfc3339),
    AfterValidator(_utc_ms),
    PlainSerializer(_wire_time, return_type=str, when_used="json"),
]


# The characters no text field admits: the C0 and C1 controls (NUL, ESC, CR, LF, tab ...) and DEL, the line
# and paragraph separators, and the bidi embeddings, overrides and isolates, which reorder what a reader sees
# ("Trojan Source"). A name, word, zone, id or firmware string has no use for them, and each is a way into a
# terminal, a header, a log line or a driver (psycopg2 refuses NUL). Kept: the left-to-right and
# right-to-left marks and the zero-width (non-)joiners, which right-to-left names, Indic scripts and emoji
# need and which reorder nothing beyond themselves; every page and terminal renders them as text.
# Written in the syntax pydantic's Rust regex and Arrow's RE2 share (``\x{...}``).
NOT_TEXT = r"\x00-\x1f\x7f-\x9f\x{2028}-\x{202e}\x{2066}-\x{2069}"
PLAIN_TEXT = rf"^[^{NOT_TEXT}]*$"
# The same set for Python's ``re`` (which spells ``\x{2028}`` as ``\u2028``): terminals and messages.
NOT_TEXT_RE = re.compile("[" + re.sub(r"\\x\{([0-9a-f]{4})\}", r"\\u\1", NOT_TEXT) + "]")
# Every character of NOT_TEXT is spelled in a JSON message with one of these bytes (an escape's backslash,
# DEL, or the UTF-8 lead bytes of U+0080-U+00BF and U+2000-U+2FFF; raw C0 bytes are not JSON): a message
# holding none of them has no such character in any string, which the fast decoders check with four memchr.
NOT_TEXT_LEAD_BYTES = (b"\\", b"\x7f", b"\xc2", b"\xe2")


def plain_json(data: bytes) -> bool:
    """No string of this JSON can hold a character of ``NOT_TEXT`` (none of its lead bytes occurs): what
    lets the fast decoders skip the text check; False says "maybe", for the contract's own check."""
    return not any(lead in data for lead in NOT_TEXT_LEAD_BYTES)


# JSON scalars as the contract reads them: a number is finite and may be written as an integer (never as a
# string or a boolean); text is a JSON string without the characters above; a version is a JSON integer
# this code knows.
Finite = Annotated[float, Strict(), Field(allow_inf_nan=False)]
StrictText = Annotated[str, Strict(), Field(pattern=PLAIN_TEXT)]
Score = Annotated[Finite, Field(ge=0.0, le=100.0)]
Id = Annotated[StrictText, Field(min_length=1, max_length=64)]
Name = Annotated[StrictText, Field(min_length=1, max_length=128)]


class Personal:
    """Marks a field that holds personal data (a citizen's name): the roles that may not see it read it
    masked (Trino's column masks for the dashboard's analysts, from ``derive.personal_paths``)."""

    def __repr__(self) -> str:
        return "PERSONAL"


PERSONAL = Personal()
CitizenName = Annotated[Name, PERSONAL]


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)


class Position(_Message):
    lat: Annotated[Finite, Field(ge=-90, le=90)]
    lon: Annotated[Finite, Field(ge=-180, le=180)]
    altitude_m: Annotated[Finite, Field(ge=-500, le=20_000)]


class DroneHealth(_Message):
    """Telemetry a predictive-maintenance model can use later."""

    battery_pct: Annotated[Finite, Field(ge=0, le=100)]
    motor_temp_c: Annotated[Finite, Field(ge=-60, le=200)]
    signal_dbm: Annotated[Finite, Field(ge=-150, le=0)]
    firmware: Annotated[StrictText, Field(min_length=1, max_length=32)]


class DroneEvent(StrEnum):
    """Something that happened to the drone itself, reported once, on its first report after it."""

    FAILURE = "failure"  # the drone failed (and was replaced or repaired: its wear starts again)
    MAINTENANCE = "maintenance"  # serviced before failing: its wear starts again


class Citizen(_Message):
    citizen_id: Id
    name: CitizenName
    harmony_score: Score


class DroneReport(_Message):
    """What one drone saw at one moment; keyed by ``drone_id`` on the wire.

    ``schema_version`` names the contract a producer wrote; a version newer than this code knows is
    refused (dead-lettered), never read as if it were this one.
    """

    schema_version: Annotated[int, Strict(), Field(ge=1, le=REPORT_SCHEMA_VERSION)] = REPORT_SCHEMA_VERSION
    report_id: Id
    drone_id: Id
    event_time: UtcMillis
    position: Position
    zone: Id
    health: DroneHealth
    citizens: Annotated[list[Citizen], Field(max_length=500)]
    words: Annotated[list[Annotated[StrictText, Field(max_length=64)]], Field(max_length=5000)]
    event: DroneEvent | None = None  # since version 2; absent (null) in older reports and most new ones


class CitizenObservation(_Message):
    """One citizen seen in one report: the flat row analytics group and filter on."""

    report_id: Id
    drone_id: Id
    event_time: UtcMillis
    zone: Id
    citizen_id: Id
    name: CitizenName
    harmony_score: Score


class AlertKind(StrEnum):
    LOW_HARMONY = "low_harmony"  # one citizen below the harmony threshold
    RIOT = "riot"  # a cluster of low-score citizens in one zone
    MAINTENANCE = "maintenance"  # a drone's failure risk crossed the model's threshold: ground it


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """Its place in the order low < medium < high < critical (a riot only ever escalates)."""
        return _SEVERITY_RANK[self]


_SEVERITY_RANK: dict[Severity, int] = {s: i for i, s in enumerate(Severity)}


class Alert(_Message):
    """A riot or low-harmony alert; keyed by ``zone`` on the wire."""

    schema_version: Annotated[int, Strict(), Field(ge=1, le=ALERT_SCHEMA_VERSION)] = ALERT_SCHEMA_VERSION
    alert_id: Name
    kind: AlertKind
    severity: Severity
    drone_id: Id
    zone: Id
    citizens: list[Id]
    event_time: UtcMillis
    detected_at: UtcMillis
    # Personal: a low-harmony alert's reason names the citizen it is about.
    reason: Annotated[StrictText, Field(min_length=1, max_length=1000), PERSONAL]
