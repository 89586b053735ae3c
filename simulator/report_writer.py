"""The JSON lines of a batch of reports, written from its columns instead of a dict and an orjson call per
report: the profile of the per-report assembly put 58% of the simulator's time in building dicts and 20%
in serialising them.

Everything that repeats is encoded once, with orjson, when the writer is made: each citizen's
``{"citizen_id":…,"name":…,"harmony_score":`` prefix, each word, each drone's id and firmware, each zone.
Numbers the generator rounds to tenths (scores, battery, temperature, signal) come from a table of their
orjson spellings indexed by tenths; coordinates and altitude are spelled by orjson, one call per column.
So the bytes are exactly those orjson wrote for the report's dict (tests/simulator/test_report_writer.py
compares them with that slow path)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import orjson

from lakehouse.schemas import REPORT_SCHEMA_VERSION


def _encoded(values: Sequence[object]) -> np.ndarray:
    """Each value's orjson spelling, as ``str`` (an object array, to be indexed by numpy)."""
    out = np.empty(len(values), dtype=object)
    out[:] = [orjson.dumps(v).decode() for v in values]
    return out


def _spelled(values: np.ndarray) -> list[str]:
    """Floats as orjson spells them (one call for the column; ``repr`` differs, e.g. 6.1e-05)."""
    return orjson.dumps(values.tolist()).decode()[1:-1].split(",")


class Tenths:
    """The orjson spelling of every multiple of 0.1 met so far, by its number of tenths."""

    def __init__(self) -> None:
        self._low = 0
        self._table = np.empty(0, dtype=object)

    def spell(self, values: np.ndarray) -> np.ndarray:
        """``values`` (already rounded to tenths, as ``np.round(x, 1)`` leaves them) as JSON numbers."""
        tenths = np.rint(values * 10).astype(np.int64)
        low, high = int(tenths.min(initial=self._low)), int(tenths.max(initial=self._low))
        if low < self._low or high >= self._low + len(self._table):
            low, high = min(low, self._low), max(high, self._low + len(self._table) - 1)
            # k / 10 is the double np.round(x, 1) gives: the one nearest the decimal k/10.
            self._table = _encoded([k / 10 for k in range(low, high + 1)])
            self._low = low
        out: np.ndarray = self._table[tenths - self._low]
        negative_zero = (tenths == 0) & np.signbit(values)
        if negative_zero.any():
            out = out.copy()
            out[negative_zero] = "-0.0"
        return out


@dataclass(frozen=True)
class BatchColumns:
    """One batch's reports as columns (what the generator drew), in report order; citizens and words
    are flattened, sliced per report by their bounds (length n + 1)."""

    report_ids: str  # 32 hex characters per report
    drone: np.ndarray
    zone: np.ndarray
    stamps: list[str]
    lat: np.ndarray
    lon: np.ndarray
    alt: np.ndarray
    battery: np.ndarray
    temp: np.ndarray
    signal: np.ndarray
    event: list[str | None]
    citizen: np.ndarray
    score: np.ndarray
    citizen_bounds: list[int]
    words: np.ndarray  # word indices
    word_bounds: list[int]


class ReportWriter:
    def __init__(
        self,
        citizen_ids: Sequence[str],
        citizen_names: Sequence[str],
        drone_ids: Sequence[str],
        firmware: Sequence[str],
        zones: Sequence[str],
        words: Sequence[str],
    ) -> None:
        self._citizen = _encoded(
            [
                {"citizen_id": c, "name": n, "harmony_score": 0}
                for c, n in zip(citizen_ids, citizen_names, strict=True)
            ]
        )
        self._citizen[:] = [c[: -len("0}")] for c in self._citizen]  # the prefix, up to the score
        self._drone = _encoded(drone_ids).tolist()
        self._firmware = _encoded(firmware).tolist()
        self._zone = _encoded(zones).tolist()
        self._word = _encoded(list(words))
        self._events: dict[str | None, str] = {}
        self._score, self._battery, self._temp, self._signal = Tenths(), Tenths(), Tenths(), Tenths()

    def write(self, b: BatchColumns) -> list[bytes]:
        """The batch's reports, one JSON document each, in the contract's field order."""
        n = len(b.drone)
        scores = self._score.spell(b.score).tolist()
        citizens = [f"{c}{sc}}}" for c, sc in zip(self._citizen[b.citizen].tolist(), scores, strict=True)]
        heard = self._word[b.words].tolist()
        cb, wb = b.citizen_bounds, b.word_bounds
        lat, lon, alt = _spelled(b.lat), _spelled(b.lon), _spelled(b.alt)
        battery = self._battery.spell(b.battery).tolist()
        temp = self._temp.spell(b.temp).tolist()
        signal = self._signal.spell(b.signal).tolist()
        events = [self._event(e) for e in b.event]
        drones, firmware, zones, ids = self._drone, self._firmware, self._zone, b.report_ids
        version = REPORT_SCHEMA_VERSION
        # f-strings: per report, str building is the cheapest there is.
        lines = [
            f'{{"schema_version":{version},"report_id":"{ids[32 * i : 32 * i + 32]}",'
            f'"drone_id":{drones[d]},"event_time":"{b.stamps[i]}","position":{{"lat":{lat[i]},"lon":{lon[i]},'
            f'"altitude_m":{alt[i]}}},"zone":{zones[z]},"health":{{"battery_pct":{battery[i]},'
            f'"motor_temp_c":{temp[i]},"signal_dbm":{signal[i]},"firmware":{firmware[d]}}},'
            f'"citizens":[{",".join(citizens[cb[i] : cb[i + 1]])}],'
            f'"words":[{",".join(heard[wb[i] : wb[i + 1]])}],"event":{events[i]}}}'
            for i, d, z in zip(range(n), b.drone.tolist(), b.zone.tolist(), strict=True)
        ]
        return [line.encode() for line in lines]

    def _event(self, event: str | None) -> str:
        if event not in self._events:
            self._events[event] = orjson.dumps(event).decode()
        return self._events[event]
