"""The columnar report writer against the slow path it replaced (a dict per report, serialised by orjson):
the same bytes, for the generator's own batches and for hostile names, words and numbers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from lakehouse.schemas import REPORT_SCHEMA_VERSION
from simulator.config import SimulatorConfig
from simulator.generator import ReportGenerator
from simulator.report_writer import BatchColumns, ReportWriter
from simulator.wear import EVENTS


class Names:
    def __init__(self, ids: list[str], names: list[str], drones: list[str], firmware: list[str],
                 zones: list[str], words: list[str], events: list[str]) -> None:  # fmt: skip
        self.ids, self.names, self.drones, self.firmware, self.zones, self.words, self.events = (
            ids, names, drones, firmware, zones, words, events
        )  # fmt: skip

    def writer(self) -> ReportWriter:
        return ReportWriter(self.ids, self.names, self.drones, self.firmware, self.zones, self.words,
                            self.events)  # fmt: skip


def slow(names: Names, b: BatchColumns) -> list[bytes]:
    """What the generator wrote before: one dict per report, orjson.dumps."""
    out = []
    stamps = np.datetime_as_string(b.event_ms.astype("datetime64[ms]"), unit="ms", timezone="UTC").tolist()
    for i, d in enumerate(b.drone.tolist()):
        a, z = b.citizen_bounds[i], b.citizen_bounds[i + 1]
        report: dict[str, Any] = {
            "schema_version": REPORT_SCHEMA_VERSION,
            "report_id": b.report_ids[32 * i : 32 * i + 32],
            "drone_id": names.drones[d],
            "event_time": stamps[i],
            "position": {"lat": float(b.lat[i]), "lon": float(b.lon[i]), "altitude_m": float(b.alt[i])},
            "zone": names.zones[int(b.zone[i])],
            "health": {
                "battery_pct": float(b.battery[i]),
                "motor_temp_c": float(b.temp[i]),
                "signal_dbm": float(b.signal[i]),
                "firmware": names.firmware[d],
            },
            "citizens": [
                {"citizen_id": names.ids[c], "name": names.names[c], "harmony_score": float(s)}
                for c, s in zip(b.citizen[a:z].tolist(), b.score[a:z].tolist(), strict=True)
            ],
            "words": [names.words[w] for w in b.words[b.word_bounds[i] : b.word_bounds[i + 1]].tolist()],
            "event": None if b.event[i] < 0 else names.events[b.event[i]],
        }
        out.append(orjson.dumps(report))
    return out


def test_the_generators_batches_are_the_bytes_orjson_wrote() -> None:
    gen = ReportGenerator(SimulatorConfig(seed=11, riots_per_day=500, wear_life_days=0.5), id_salt=5)
    names = Names(gen.population.ids, gen.population.names, gen.fleet.ids, gen.fleet.firmware,
                  [z.name for z in gen.city.zones], list(gen.lexicon.words),
                  [e.value for e in EVENTS])  # fmt: skip
    captured: list[BatchColumns] = []
    write = gen.writer.write

    def spy(b: BatchColumns) -> list[bytes]:
        captured.append(b)
        return write(b)

    gen.writer.write = spy  # type: ignore[method-assign]
    values = [v for batch in gen.backfill(datetime(2026, 9, 5, 17, tzinfo=UTC), 30_000) for v in batch.values]
    assert values == [v for b in captured for v in slow(names, b)]
    assert any((b.event >= 0).any() for b in captured), (
        "the run has drone events, so the event field is written both ways"
    )


text = st.text(max_size=12)
# 1970 to 2100, so times before the epoch (negative milliseconds) are written too
stamps = st.integers(0, 4_102_444_800_000) | st.integers(-(10**10), 0)
tenths = st.integers(-2000, 2000).map(lambda k: k / 10) | st.just(-0.0)


@settings(max_examples=60, deadline=None)
@given(
    ids=st.lists(text, min_size=1, max_size=5),
    words=st.lists(text, min_size=1, max_size=5),
    zone=text,
    firmware=text,
    data=st.data(),
)
def test_any_text_and_number_is_written_as_orjson_writes_it(
    ids: list[str], words: list[str], zone: str, firmware: str, data: st.DataObject
) -> None:
    names = Names(ids, [f"{i}\n\"name\"\u2028" for i in ids], ["drone\\0", "d\u00e9"], [firmware, "1"], [zone],
                  words, ["failure", "maintenance\u0000"])  # fmt: skip
    n = data.draw(st.integers(1, 6))
    per = data.draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))
    nw = data.draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))
    m, w = sum(per), sum(nw)
    coords = st.floats(-180, 180, allow_nan=False).map(lambda x: round(x, 6)) | st.sampled_from(
        [0.0, -0.0, 1.0, -2.0, 1e-5, -3.2e-6, 0.0001, 99.99999]
    )
    b = BatchColumns(
        report_ids="ab" * 16 * n,
        drone=np.array(data.draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))),
        zone=np.zeros(n, dtype=np.int64),
        event_ms=np.array(data.draw(st.lists(stamps, min_size=n, max_size=n)), dtype=np.int64),
        lat=np.array(data.draw(st.lists(coords, min_size=n, max_size=n))),
        lon=np.array(data.draw(st.lists(coords, min_size=n, max_size=n))),
        alt=np.array(data.draw(st.lists(tenths, min_size=n, max_size=n))),
        battery=np.array(data.draw(st.lists(tenths, min_size=n, max_size=n))),
        temp=np.array(data.draw(st.lists(tenths, min_size=n, max_size=n))),
        signal=np.array(data.draw(st.lists(tenths, min_size=n, max_size=n))),
        event=np.array(data.draw(st.lists(st.integers(-1, 1), min_size=n, max_size=n)), dtype=np.int64),
        citizen=np.array(
            data.draw(st.lists(st.integers(0, len(ids) - 1), min_size=m, max_size=m)), dtype=np.int64
        ),
        score=np.array(data.draw(st.lists(tenths, min_size=m, max_size=m))),
        citizen_bounds=np.concatenate([[0], np.cumsum(per)]).astype(int),
        words=np.array(
            data.draw(st.lists(st.integers(0, len(words) - 1), min_size=w, max_size=w)), dtype=np.int64
        ),
        word_bounds=np.concatenate([[0], np.cumsum(nw)]).astype(int),
    )
    assert names.writer().write(b) == slow(names, b)
