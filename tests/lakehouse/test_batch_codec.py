"""The fast (Arrow) and slow (pydantic) decoders accept exactly the same messages, with the same values.

A property-based differential test: hypothesis builds valid messages, mutates them the ways a hostile or
broken producer would (types, ranges, non-finite numbers, time formats, unicode, missing, extra and
repeated fields, nesting, framing), and checks ``decode_batch`` against ``decode`` message by message.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from lakehouse.batch_codec import decode_batch
from lakehouse.codec import ContractError, decode, encode
from lakehouse.derive import constraints
from lakehouse.schemas import Alert, DroneReport
from testkit.messages import EXAMPLES, alerts, mutated, reports


def _reference(model: type[BaseModel], raw: bytes) -> dict[str, Any] | None:
    try:
        return decode(model, raw).model_dump()
    except ContractError:
        return None


def _assert_agree(model: type[BaseModel], values: list[bytes]) -> None:
    batch = decode_batch(model, values)
    event(f"accepted {len(batch.rows) * 4 // len(values)}/4 of a batch")
    expected = {i: _reference(model, v) for i, v in enumerate(values)}
    accepted = sorted(i for i, e in expected.items() if e is not None)
    assert batch.rows == accepted, "the decoders accept different messages"
    assert sorted(i for i, _ in batch.rejected) == [i for i, e in expected.items() if e is None]
    assert batch.table.num_rows == len(accepted)
    for row, i in zip(batch.table.to_pylist(), batch.rows, strict=True):
        assert row == expected[i], f"message {i} decoded differently: {values[i]!r}"


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutated(reports()), min_size=1, max_size=12))
def test_reports_decode_alike_on_both_paths(values: list[bytes]) -> None:
    _assert_agree(DroneReport, values)


@settings(max_examples=EXAMPLES * 2 // 5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutated(alerts()), min_size=1, max_size=12))
def test_alerts_decode_alike_on_both_paths(values: list[bytes]) -> None:
    _assert_agree(Alert, values)


@pytest.fixture
def valid_report() -> dict[str, Any]:
    return {
        "report_id": "r-1",
        "drone_id": "d-1",
        "event_time": "2026-09-01T10:00:00.123Z",
        "position": {"lat": 1.0, "lon": 2.0, "altitude_m": 100.5},
        "zone": "harbour",
        "health": {"battery_pct": 50, "motor_temp_c": 40, "signal_dbm": -50, "firmware": "v1"},
        "citizens": [{"citizen_id": "c-1", "name": "Ann", "harmony_score": 12.5}],
        "words": ["bread"],
    }


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"health": {"battery_pct": "NaN"}}, "health.battery_pct"),
        ({"event_time": "2026-09-01T10:00:00"}, "event_time"),  # no zone
        ({"event_time": "2026-09-01"}, "event_time"),
        ({"event_time": "2026-09-01 10:00:00Z"}, "event_time"),
        ({"schema_version": 999}, "schema_version"),
        ({"event_time": "0001-01-01T00:00:00+01:00"}, "event_time"),  # before year 1 in UTC
    ],
)
def test_what_the_review_found_landing_is_refused(
    valid_report: dict[str, Any], patch: dict[str, Any], field: str
) -> None:
    """The malformed messages that once reached ``raw.reports`` are dead-lettered, naming the field."""
    message = {**valid_report, **{k: v for k, v in patch.items() if k != "health"}}
    if "health" in patch:
        message["health"] = {**valid_report["health"], **patch["health"]}
    good = orjson.dumps(valid_report)
    bad = orjson.dumps(message)
    batch = decode_batch(DroneReport, [good, bad, good])
    assert batch.rows == [0, 2]
    ((index, error),) = batch.rejected
    assert index == 1
    assert error.field == field


def test_a_nan_literal_among_valid_reports_is_refused(valid_report: dict[str, Any]) -> None:
    """Arrow's parser reads ``NaN`` and ``Infinity`` as numbers; the contract has none."""
    good = orjson.dumps(valid_report)
    values = [good] * 50 + [good.replace(b'"battery_pct":50', b'"battery_pct":NaN')] + [good] * 50
    batch = decode_batch(DroneReport, values)
    assert [i for i, _ in batch.rejected] == [50]
    assert len(batch.rows) == 100


def test_a_bare_null_message_does_not_reach_arrow() -> None:
    """``null`` alone crashes Arrow's JSON reader (a segfault, seen with pyarrow 26): it never gets it."""
    batch = decode_batch(DroneReport, [b"null"])
    assert batch.rows == []
    assert batch.rejected[0][1].field == "$"


def test_times_are_truncated_to_milliseconds_in_utc(valid_report: dict[str, Any]) -> None:
    values = [
        orjson.dumps({**valid_report, "event_time": t})
        for t in (
            "2026-09-01T10:00:00.123999Z",
            "2026-09-01T12:00:00.5+02:00",
            "2026-09-01T09:59:59.9999-00:00",
        )
    ]
    table = decode_batch(DroneReport, values).table
    got = [t.isoformat() for t in table.column("event_time").to_pylist()]
    assert got == [
        "2026-09-01T10:00:00.123000+00:00",
        "2026-09-01T10:00:00.500000+00:00",
        "2026-09-01T09:59:59.999000+00:00",
    ]


class _Patterned(BaseModel):
    code: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


def test_a_constraint_the_fast_path_does_not_know_sends_everything_to_pydantic() -> None:
    assert constraints(_Patterned).unsupported
    batch = decode_batch(_Patterned, [b'{"code":"ABC"}', b'{"code":"abc"}'])
    assert batch.rows == [0]
    assert batch.rejected[0][1].field == "code"


def test_canonical_encoding_round_trips(valid_report: dict[str, Any]) -> None:
    report = decode(DroneReport, orjson.dumps(valid_report))
    assert decode_batch(DroneReport, [encode(report)]).table.to_pylist() == [report.model_dump()]


@pytest.mark.parametrize("bad", [b"\xc0\x80", b"\xc1\x9b", b"\xf0\x82\x80\xa8", b"\xed\xa0\x80", b"\x80"])
def test_bytes_that_are_not_utf8_never_reach_the_table(valid_report: dict[str, Any], bad: bytes) -> None:
    """Arrow's reader does not check UTF-8: an overlong NUL, ESC or U+2028 would pass the text check."""
    good = orjson.dumps(valid_report)
    # schema_version after the other fields: with it there, Arrow's reader took the bytes as they were
    late = {k: v for k, v in valid_report.items() if k != "schema_version"} | {"schema_version": 1}
    raw = orjson.dumps(late).replace(b'"zone":"', b'"zone":"' + bad, 1)
    for values in ([raw], [good, raw, good], [good, good, good, raw]):  # Arrow let the last one through
        batch = decode_batch(DroneReport, values)
        assert [i for i, _ in batch.rejected] == [values.index(raw)]
        assert batch.table.num_rows == len(values) - 1
        batch.table.to_pylist()  # every string in the table is valid UTF-8
