"""The message contract: one pydantic definition per message type.

Everything else is derived from these classes: the JSON codec and its validation (``lakehouse.codec``),
the Iceberg and Arrow schemas (``lakehouse.derive``). Add an optional field here and every consumer,
table and engine follows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer

REPORT_SCHEMA_VERSION = 1
ALERT_SCHEMA_VERSION = 1


def _utc_ms(value: datetime) -> datetime:
    """Event times are UTC with millisecond precision; naive times are refused, not guessed."""
    if value.tzinfo is None:
        raise ValueError("timestamp must carry a timezone (UTC)")
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _wire_time(value: datetime) -> str:
    """The one wire format for time: RFC 3339, UTC, always three fractional digits, ``Z``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


UtcMillis = Annotated[
    datetime, AfterValidator(_utc_ms), PlainSerializer(_wire_time, return_type=str, when_used="json")
]
Score = Annotated[float, Field(ge=0.0, le=100.0)]


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)


class Position(_Message):
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]
    altitude_m: Annotated[float, Field(ge=-500, le=20_000)]


class DroneHealth(_Message):
    """Telemetry a predictive-maintenance model can use later."""

    battery_pct: Annotated[float, Field(ge=0, le=100)]
    motor_temp_c: Annotated[float, Field(ge=-60, le=200)]
    signal_dbm: Annotated[float, Field(ge=-150, le=0)]
    firmware: Annotated[str, Field(min_length=1, max_length=32)]


class Citizen(_Message):
    citizen_id: Annotated[str, Field(min_length=1, max_length=64)]
    name: Annotated[str, Field(min_length=1, max_length=128)]
    harmony_score: Score


class DroneReport(_Message):
    """What one drone saw at one moment; keyed by ``drone_id`` on the wire."""

    schema_version: int = REPORT_SCHEMA_VERSION
    report_id: Annotated[str, Field(min_length=1, max_length=64)]
    drone_id: Annotated[str, Field(min_length=1, max_length=64)]
    event_time: UtcMillis
    position: Position
    zone: Annotated[str, Field(min_length=1, max_length=64)]
    health: DroneHealth
    citizens: Annotated[list[Citizen], Field(max_length=500)]
    words: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=5000)]


class CitizenObservation(_Message):
    """One citizen seen in one report: the flat row analytics group and filter on."""

    report_id: Annotated[str, Field(min_length=1, max_length=64)]
    drone_id: Annotated[str, Field(min_length=1, max_length=64)]
    event_time: UtcMillis
    zone: Annotated[str, Field(min_length=1, max_length=64)]
    citizen_id: Annotated[str, Field(min_length=1, max_length=64)]
    name: Annotated[str, Field(min_length=1, max_length=128)]
    harmony_score: Score


class AlertKind(StrEnum):
    LOW_HARMONY = "low_harmony"  # one citizen below the harmony threshold
    RIOT = "riot"  # a cluster of low-score citizens in one zone


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """Its place in the order low < medium < high < critical (a riot only ever escalates)."""
        return list(Severity).index(self)


class Alert(_Message):
    """A riot or low-harmony alert; keyed by ``zone`` on the wire."""

    schema_version: int = ALERT_SCHEMA_VERSION
    alert_id: Annotated[str, Field(min_length=1, max_length=128)]
    kind: AlertKind
    severity: Severity
    drone_id: Annotated[str, Field(min_length=1, max_length=64)]
    zone: Annotated[str, Field(min_length=1, max_length=64)]
    citizens: list[str]
    event_time: UtcMillis
    detected_at: UtcMillis
    reason: Annotated[str, Field(min_length=1, max_length=1000)]
