"""The JSON lines of a batch of reports, written by Arrow's string kernels over the batch's columns.

Why: a Python f-string per report cost ~3.8 µs, more than half of what the simulator spends per report
(and a dict plus an orjson call per report cost more still). Here each field becomes one string column in a
few vectorised calls (``take`` from tables of pre-encoded JSON, integer casts, ``binary_join`` for lists)
and the report is the element-wise join of those columns, so Python runs a fixed number of calls per
batch, not per report.

Everything that repeats is encoded once, with orjson, when the writer is made: each citizen's
``{"citizen_id":…,"name":…,"harmony_score":`` prefix, each word, drone id, firmware, zone and event.
Numbers the generator rounds to tenths (scores, altitude, battery, temperature, signal) come from a table
of their orjson spellings indexed by tenths; coordinates are cast by Arrow (the shortest round-trip digits,
as orjson writes them), with orjson itself for the few spellings that differ (whole numbers, exponents).
The bytes are exactly those orjson wrote for the report's dict (tests/simulator/test_report_writer.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.schemas import REPORT_SCHEMA_VERSION

_MS_PER_DAY = 86_400_000
_CLOCK = pa.array([f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}." for s in range(86_400)])
_MILLIS = pa.array([f"{i:03d}Z" for i in range(1000)])
# orjson writes these magnitudes in exponent form (1e-5, 1e16), Arrow in positional form.
_POSITIONAL = (1e-4, 1e16)


def _encoded(values: Sequence[object], before: str = "", after: str = "") -> pa.StringArray:
    """Each value's orjson spelling, between the contract's text that comes before and after it (so the
    report's final join has fewer pieces)."""
    return pa.array([f"{before}{orjson.dumps(v).decode()}{after}" for v in values], type=pa.string())


def _take(table: pa.Array, index: np.ndarray) -> pa.Array:
    return table.take(pa.array(index, type=pa.int64()))


class Tenths:
    """The orjson spelling of every multiple of 0.1 met so far, by its number of tenths."""

    def __init__(self, before: str = "") -> None:
        self._before = before
        self._low = 0
        self._table = pa.array([], type=pa.string())

    def spell(self, values: np.ndarray) -> pa.Array:
        """``values`` (already rounded to tenths, as ``np.round(x, 1)`` leaves them) as JSON numbers."""
        tenths = np.rint(values * 10).astype(np.int64)
        low, high = int(tenths.min(initial=self._low)), int(tenths.max(initial=self._low))
        if low < self._low or high >= self._low + len(self._table):
            low, high = min(low, self._low), max(high, self._low + len(self._table) - 1)
            # k / 10 is the double np.round(x, 1) gives: the one nearest the decimal k/10.
            self._table = _encoded([k / 10 for k in range(low, high + 1)], self._before)
            self._low = low
        out = _take(self._table, tenths - self._low)
        negative_zero = (tenths == 0) & np.signbit(values)
        if negative_zero.any():
            out = pc.if_else(pa.array(negative_zero), f"{self._before}-0.0", out)
        return out


def _spelled(values: np.ndarray) -> pa.Array:
    """Any finite floats as orjson spells them: Arrow's shortest round-trip digits, which orjson shares,
    except that orjson keeps a ``.0`` on whole numbers and uses exponents outside ``_POSITIONAL``."""
    out = pa.array(values).cast(pa.string())
    magnitude = np.abs(values)
    odd = (values == np.trunc(values)) | (magnitude < _POSITIONAL[0]) | (magnitude >= _POSITIONAL[1])
    if odd.any():
        spelled = out.to_numpy(zero_copy_only=False).astype(object)
        spelled[odd] = [orjson.dumps(v).decode() for v in values[odd].tolist()]
        out = pa.array(spelled, type=pa.string())
    return out


def _stamps(event_ms: np.ndarray) -> pa.Array:
    """ISO 8601 in UTC with milliseconds (``2026-09-01T17:05:09.250Z``), as numpy's ``datetime_as_string``
    writes it: the date once per distinct day, the time from two- and three-digit tables."""
    day, ms = np.divmod(event_ms, _MS_PER_DAY)
    days, day_index = np.unique(day, return_inverse=True)
    dates = pa.array(np.datetime_as_string(days.astype("datetime64[D]")).astype(object) + "T")
    second, milli = np.divmod(ms, 1000)
    return pc.binary_join_element_wise(
        _take(dates, day_index), _take(_CLOCK, second), _take(_MILLIS, milli), ""
    )


def _joined(items: pa.Array, bounds: np.ndarray) -> pa.Array:
    """Each report's slice ``items[bounds[i]:bounds[i + 1]]`` joined by commas."""
    lists = pa.ListArray.from_arrays(pa.array(bounds, type=pa.int32()), items)
    return pc.binary_join(lists, ",")


@dataclass(frozen=True)
class BatchColumns:
    """One batch's reports as columns (what the generator drew), in report order; citizens and words
    are flattened, sliced per report by their bounds (length n + 1)."""

    report_ids: str  # 32 hex characters per report
    drone: np.ndarray
    zone: np.ndarray
    event_ms: np.ndarray  # event time, epoch milliseconds
    lat: np.ndarray
    lon: np.ndarray
    alt: np.ndarray
    battery: np.ndarray
    temp: np.ndarray
    signal: np.ndarray
    event: np.ndarray  # index into the writer's events, -1 for none
    citizen: np.ndarray
    score: np.ndarray
    citizen_bounds: np.ndarray
    words: np.ndarray  # word indices
    word_bounds: np.ndarray


class ReportWriter:
    def __init__(
        self,
        citizen_ids: Sequence[str],
        citizen_names: Sequence[str],
        drone_ids: Sequence[str],
        firmware: Sequence[str],
        zones: Sequence[str],
        words: Sequence[str],
        events: Sequence[str],
    ) -> None:
        prefixes = [
            orjson.dumps({"citizen_id": c, "name": n, "harmony_score": 0}).decode()[: -len("0}")]
            for c, n in zip(citizen_ids, citizen_names, strict=True)
        ]
        self._citizen = pa.array(prefixes, type=pa.string())
        self._score = Tenths()
        self._word = _encoded(list(words))
        # The report's fields in the contract's order, each with the text up to the next field's value.
        self._drone = _encoded(drone_ids, '","drone_id":', ',"event_time":"')
        self._alt = Tenths(',"altitude_m":')
        self._zone = _encoded(zones, '},"zone":')
        self._battery = Tenths(',"health":{"battery_pct":')
        self._temp = Tenths(',"motor_temp_c":')
        self._signal = Tenths(',"signal_dbm":')
        self._firmware = _encoded(firmware, ',"firmware":', '},"citizens":[')
        self._event = _encoded([None, *events], '],"event":', "}")  # shifted by one: -1 is null

    def write(self, b: BatchColumns) -> list[bytes]:
        """The batch's reports, one JSON document each, in the contract's field order."""
        n = len(b.drone)
        citizens = pc.binary_join_element_wise(
            _take(self._citizen, b.citizen), self._score.spell(b.score), "}", ""
        )
        ids = pa.FixedSizeBinaryArray.from_buffers(
            pa.binary(32), n, [None, pa.py_buffer(b.report_ids.encode())]
        )
        lines = pc.binary_join_element_wise(
            f'{{"schema_version":{REPORT_SCHEMA_VERSION},"report_id":"', ids.cast(pa.string()),
            _take(self._drone, b.drone), _stamps(b.event_ms),
            '","position":{"lat":', _spelled(b.lat), ',"lon":', _spelled(b.lon), self._alt.spell(b.alt),
            _take(self._zone, b.zone), self._battery.spell(b.battery), self._temp.spell(b.temp),
            self._signal.spell(b.signal), _take(self._firmware, b.drone),
            _joined(citizens, b.citizen_bounds),
            '],"words":[', _joined(_take(self._word, b.words), b.word_bounds),
            _take(self._event, b.event + 1),
            "",
        )  # fmt: skip
        values: list[bytes] = lines.cast(pa.binary()).to_pylist()
        return values
