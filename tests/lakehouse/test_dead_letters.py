"""A dead letter always fits the dead-letter topic, whatever the message it carries brings."""

from __future__ import annotations

import hashlib

import orjson
import pytest

from lakehouse.codec import ContractError, decode
from lakehouse.dead_letters import HEADER_FIELD, HEADER_ORIGINAL, HEADER_REASON, envelope
from lakehouse.schemas import DroneReport

LIMIT = 2 * 1024 * 1024
VALID = {
    "report_id": "r", "drone_id": "d", "event_time": "2026-09-01T00:00:00.000Z",
    "position": {"lat": 1, "lon": 2, "altitude_m": 3}, "zone": "z",
    "health": {"battery_pct": 50, "motor_temp_c": 40, "signal_dbm": -60, "firmware": "f"},
    "citizens": [], "words": [],
}  # fmt: skip


def _size(key: bytes | None, value: bytes, headers: list[tuple[str, bytes]]) -> int:
    return len(key or b"") + len(value) + sum(len(k) + len(v) for k, v in headers)


def _error(raw: bytes) -> ContractError:
    with pytest.raises(ContractError) as err:
        decode(DroneReport, raw)
    return err.value


@pytest.mark.parametrize("unknown", ["k" * 900_000, "\x00" * 150_000, "é" * 400_000])
def test_an_unknown_key_of_a_megabyte_is_cut_everywhere(unknown: str) -> None:
    """pydantic names an unknown field by its key: the field and the reason are cut, the original kept."""
    raw = orjson.dumps({**VALID, unknown: 1})
    key, value, headers = envelope(_error(raw), raw, b"k" * 100_000, "reports", 0, 7, "test", LIMIT)
    assert _size(key, value, headers) <= LIMIT
    h = dict(headers)
    assert len(h[HEADER_FIELD]) < 3000 and b"...[cut: " in h[HEADER_FIELD]
    assert len(h[HEADER_REASON]) < 5000
    assert key is not None and len(key) < 5000 and key.endswith(b"[cut: 100000 bytes]")
    assert h[HEADER_ORIGINAL] == raw, "the original fits: it is kept whole"
    record = orjson.loads(value)
    assert record["original_bytes"] == len(raw) and not record["original_truncated"]


def test_an_original_beyond_the_limit_keeps_a_prefix_its_size_and_digest() -> None:
    raw = b"x" * (LIMIT + 10)
    key, value, headers = envelope(ValueError("too big"), raw, None, "reports", 1, 2, "test", LIMIT)
    assert _size(key, value, headers) <= LIMIT
    record = orjson.loads(value)
    assert record["original_truncated"] and record["original_bytes"] == len(raw)
    assert record["original_sha256"] == hashlib.sha256(raw).hexdigest()
    assert raw.startswith(dict(headers)[HEADER_ORIGINAL])


def test_a_key_that_is_not_utf8_is_kept_as_bytes() -> None:
    key, _, headers = envelope(ValueError("x"), b"{}", b"\xff\xfe\x00", "alerts", 0, 0, "test", LIMIT)
    assert key == b"\xff\xfe\x00"
    assert dict(headers)[HEADER_REASON] == b"ValueError: x"
