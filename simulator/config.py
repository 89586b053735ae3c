"""The simulated world's knobs: fleet, population, rhythms and riots, all in one frozen object."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Unrest by hour of day (local = UTC here): quiet mornings, a lunchtime bump, a late-evening peak.
# Normalised to mean 1 so `base_agitation` is the daily average.
DEFAULT_HOURLY = (
    1.2, 0.9, 0.6, 0.4, 0.3, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9,
    1.0, 1.0, 0.9, 0.9, 1.0, 1.1, 1.3, 1.5, 1.7, 1.9, 1.9, 1.6,
)  # fmt: skip


class SimulatorConfig(BaseModel):
    """Everything that shapes the produced data; the same config and seed give the same bytes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int = 42
    drones: Annotated[int, Field(ge=1, le=100_000)] = 48
    citizens: Annotated[int, Field(ge=10, le=10_000_000)] = 20_000
    report_interval_s: Annotated[float, Field(gt=0)] = 10.0
    citizens_per_report: Annotated[float, Field(gt=0, le=50)] = 4.0
    base_agitation: Annotated[float, Field(ge=0, le=0.5)] = 0.001
    hourly_profile: tuple[float, ...] = DEFAULT_HOURLY
    weekend_multiplier: Annotated[float, Field(gt=0, le=10)] = 1.6
    riots_per_day: Annotated[float, Field(ge=0)] = 2.0
    riot_minutes: tuple[float, float] = (12.0, 40.0)
    riot_size: tuple[int, int] = (15, 40)
    rioters_per_report: Annotated[float, Field(gt=0)] = 1.5
    # Drone wear (simulator.wear): days a drone of average wear rate flies before it fails, the scheduled
    # maintenance interval (days, uniform) that resets wear if it comes first, and the mean days between
    # sudden failures no telemetry announces.
    wear_life_days: Annotated[float, Field(gt=0)] = 8.0
    service_days: tuple[float, float] = (4.0, 14.0)
    sudden_failure_days: Annotated[float, Field(gt=0)] = 90.0

    @field_validator("hourly_profile")
    @classmethod
    def _24_hours(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if len(v) != 24 or min(v) < 0:
            raise ValueError("hourly_profile needs 24 non-negative multipliers")
        mean = sum(v) / 24
        if mean <= 0:
            raise ValueError("hourly_profile cannot be all zero")
        return tuple(x / mean for x in v)

    @field_validator("riot_minutes")
    @classmethod
    def _minutes(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not 0 < v[0] <= v[1]:
            raise ValueError("riot_minutes must be (min, max) with 0 < min <= max")
        return v

    @field_validator("service_days")
    @classmethod
    def _service(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not 0 < v[0] <= v[1]:
            raise ValueError("service_days must be (min, max) with 0 < min <= max")
        return v

    @field_validator("riot_size")
    @classmethod
    def _size(cls, v: tuple[int, int]) -> tuple[int, int]:
        if not 2 <= v[0] <= v[1]:
            raise ValueError("riot_size must be (min, max) with 2 <= min <= max")
        return v

    def unrest(self, hour: int, weekend: bool) -> float:
        """The multiplier on agitation (and on riot starts) at this hour of this kind of day."""
        return self.hourly_profile[hour] * (self.weekend_multiplier if weekend else 1.0)
