"""Drone wear: a hidden process per drone that ends in a failure or a maintenance, and the telemetry it shows.

Each drone lives a sequence of *lives* from a fixed origin: a life ends when its wear reaches 1 (a
failure), when scheduled maintenance comes first (wear resets), or with a sudden failure no telemetry
announces. Wear ``w`` grows linearly over a life; telemetry shows it late and with noise: the charged
battery capacity fades (``w³``), the motor runs hotter (``w⁴``), the radio drops out more often (``w⁵``).
Drones differ: a nominal battery capacity, a motor that runs hot (and wears faster), a wear rate.

Everything is a function of the seed and the time (lives are drawn per drone, in order, from the origin),
so a backfill and a live run agree, whatever the batch boundaries. The first report of a drone after a
life ended carries the event (``failure`` or ``maintenance``); the ground truth records when it really
happened and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from lakehouse.schemas import DroneEvent
from simulator.config import SimulatorConfig

ORIGIN_S = datetime(2020, 1, 1, tzinfo=UTC).timestamp()
DAY_S = 86_400.0
CHUNK = 128  # lives drawn per drone at a time
WEAR, SUDDEN, SERVICE = 0, 1, 2  # how a life ends
CAUSES = ("wear", "sudden", "service")
EVENTS = (DroneEvent.FAILURE, DroneEvent.FAILURE, DroneEvent.MAINTENANCE)  # what the report says, per cause


@dataclass(frozen=True)
class DroneEvents:
    """Per report: the event it carries (-1: none, else the cause index), and every life end it covers."""

    cause: np.ndarray  # per report
    ends: list[tuple[int, float, int]]  # (drone, time the life ended, cause), for the ground truth


@dataclass(frozen=True)
class Telemetry:
    battery: np.ndarray
    temp: np.ndarray
    signal: np.ndarray


class Wear:
    def __init__(self, config: SimulatorConfig, drones: int) -> None:
        self.config = config
        rng = np.random.default_rng([config.seed, 0x3EA7])
        self.capacity = rng.uniform(86.0, 100.0, drones)  # % charged when new
        self.heat = rng.uniform(0.0, 8.0, drones)  # °C the motor runs above the fleet's norm
        self.rate = rng.lognormal(0.0, 0.35, drones) * (1 + self.heat / 16)
        self.signal_offset = rng.normal(0.0, 3.0, drones)
        self._rngs = [np.random.default_rng([config.seed, 0x3EA7, d]) for d in range(drones)]
        self._ends = [np.empty(0) for _ in range(drones)]  # when each life ended (the next one starts)
        self._lengths = [np.empty(0) for _ in range(drones)]  # when its wear would reach 1
        self._causes = [np.empty(0, dtype=np.int64) for _ in range(drones)]
        self._last_t = np.full(drones, np.nan)  # each drone's previous report

    def _extend(self, d: int, until: float) -> None:
        cfg, rng = self.config, self._rngs[d]
        while not len(self._ends[d]) or self._ends[d][-1] <= until:
            length = cfg.wear_life_days * DAY_S / self.rate[d] * rng.lognormal(0.0, 0.25, CHUNK)
            service = rng.uniform(*cfg.service_days, CHUNK) * DAY_S
            sudden = rng.exponential(cfg.sudden_failure_days * DAY_S, CHUNK)
            spans = np.stack([length, sudden, service])
            cause = spans.argmin(axis=0)
            span = spans.min(axis=0)
            first = self._ends[d][-1] if len(self._ends[d]) else ORIGIN_S
            ends = first + np.cumsum(span)
            self._ends[d] = np.concatenate([self._ends[d], ends])
            self._lengths[d] = np.concatenate([self._lengths[d], length])
            self._causes[d] = np.concatenate([self._causes[d], cause])

    def observe(self, drone: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, DroneEvents]:
        """Each report's wear in [0, 1], and the events since each drone's previous report."""
        wear = np.zeros(len(t))
        cause = np.full(len(t), -1, dtype=np.int64)
        ends: list[tuple[int, float, int]] = []
        interval = self.config.report_interval_s
        for d in np.unique(drone).tolist():
            at = np.flatnonzero(drone == d)
            times = t[at]
            self._extend(d, float(times.max()))
            stops = self._ends[d]
            starts = np.concatenate([[ORIGIN_S], stops[:-1]])
            life = np.searchsorted(starts, times, side="right") - 1
            before = life < 0
            life = np.maximum(life, 0)
            wear[at] = np.where(before, 0.0, np.clip((times - starts[life]) / self._lengths[d][life], 0, 1))
            last = self._last_t[d]
            prev = np.concatenate([[times[0] - interval if np.isnan(last) else last], times[:-1]])
            prev = np.minimum(prev, times)
            lo = np.searchsorted(stops, prev, side="right")
            hi = np.searchsorted(stops, times, side="right")
            for i in np.flatnonzero(hi > lo).tolist():
                covered = range(int(lo[i]), int(hi[i]))
                ends += [(d, float(stops[k]), int(self._causes[d][k])) for k in covered]
                failed = [k for k in covered if self._causes[d][k] != SERVICE]
                cause[at[i]] = int(self._causes[d][failed[-1] if failed else hi[i] - 1])
            self._last_t[d] = float(times.max()) if np.isnan(last) else max(float(times.max()), last)
        return wear, DroneEvents(cause, ends)

    def telemetry(
        self,
        drone: np.ndarray,
        t: np.ndarray,
        wear: np.ndarray,
        period_s: np.ndarray,
        rng: np.random.Generator,
    ) -> Telemetry:
        """Battery (40-minute flights from the worn capacity), motor temperature, signal with dropouts."""
        n = len(drone)
        cycle = 2400.0
        flight = ((t + drone * 997.0) % cycle) / cycle
        capacity = self.capacity[drone] - 28.0 * wear**3
        battery = np.clip(capacity * (1 - 0.92 * flight) + rng.normal(0, 0.8, n), 0.0, 100.0)
        temp = 35 + self.heat[drone] + 30 * flight + 22.0 * wear**4 + rng.normal(0, 1.5, n)
        signal = (
            -55
            + self.signal_offset[drone]
            - 20 * np.abs(np.sin(2 * np.pi * t / period_s))
            + rng.normal(0, 2, n)
        )
        dropout = rng.random(n) < 0.01 + 0.35 * wear**5
        signal = np.where(dropout, rng.uniform(-125.0, -101.0, n), signal)
        return Telemetry(battery, temp, np.clip(signal, -150.0, -1.0))
