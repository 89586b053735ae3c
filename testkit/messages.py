"""Hypothesis strategies for the wire messages: valid reports and alerts, and the ways a hostile or broken
producer mangles them (types, ranges, non-finite numbers, time formats, unicode, missing, extra and repeated
fields, nesting, framing). Shared by the decoder's differential test and the reliability suite."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from hypothesis import strategies as st

from lakehouse.schemas import REPORT_SCHEMA_VERSION, AlertKind, DroneEvent, Severity

# Valid messages draw from what the contract's text admits; `mutated` puts in the rest (any_text and more).
characters = st.characters(
    codec="utf-8",
    exclude_categories=["Cs", "Cc"],
    exclude_characters="\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069",
)
any_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
text = st.text(characters, max_size=70)
ids = st.text(characters, min_size=1, max_size=66)
times = st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30), timezones=st.just(UTC))


def _fmt(moment: datetime, style: int, digits: int, offset_min: int) -> Any:
    """A timestamp written one of many ways, valid or not."""
    local = moment + timedelta(minutes=offset_min) if -1440 < offset_min < 1440 else moment
    base = f"{local.year:04d}-" + local.strftime("%m-%dT%H:%M:%S")  # strftime writes year 999 as "999"
    frac = f"{moment.microsecond:06d}{moment.microsecond % 1000:03d}"[:digits]
    frac = f".{frac}" if digits else ""
    sign = "-" if offset_min < 0 else "+"
    off = f"{sign}{abs(offset_min) // 60:02d}:{abs(offset_min) % 60:02d}"
    variants: list[Any] = [
        f"{base}{frac}Z",
        f"{base}{frac}{off}",
        f"{base}{frac}",  # naive
        base.replace("T", " ") + "Z",
        base.replace("T", "t") + "z",
        local.strftime("%Y-%m-%d"),
        int(moment.timestamp()),
        str(int(moment.timestamp())),
        f"{base}{frac}+{abs(offset_min) // 60:02d}{abs(offset_min) % 60:02d}",  # offset without colon
        f"{base[:8]}31T{base[11:]}Z",  # the 31st of any month
        f"{base[:11]}24:00:00Z",
        f"{base[:17]}60Z",  # leap second
        f"0000{base[4:]}Z",
        f"{base}{frac}+24:00",
        f"{base}.Z",
        f"{base}{frac}Z".replace("0", "\u0660", 1),  # an Arabic-Indic zero: a digit to Python, not to RE2
    ]
    return variants[style % len(variants)]


@st.composite
def timestamps(draw: st.DrawFn, valid: bool) -> Any:
    moment = draw(times)
    digits = draw(st.integers(0, 12))
    offset = draw(st.integers(-1439, 1439))
    style = draw(st.integers(0, 1)) if valid else draw(st.integers(0, 15))
    return _fmt(moment, style, min(digits, 9) if valid else digits, offset)


def _number(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.one_of(st.floats(lo, hi, allow_nan=False), st.integers(int(lo), int(hi)).map(float))


@st.composite
def reports(draw: st.DrawFn) -> dict[str, Any]:
    citizens = draw(
        st.lists(
            st.fixed_dictionaries(
                {"citizen_id": ids, "name": ids, "harmony_score": _number(0, 100)},
            ),
            max_size=4,
        )
    )
    report = {
        "report_id": draw(ids),
        "drone_id": draw(ids),
        "event_time": draw(timestamps(valid=True)),
        "position": {"lat": draw(_number(-90, 90)), "lon": draw(_number(-180, 180)), "altitude_m": 100.5},
        "zone": draw(ids),
        "health": {
            "battery_pct": draw(_number(0, 100)),
            "motor_temp_c": draw(_number(-60, 200)),
            "signal_dbm": draw(_number(-150, 0)),
            "firmware": draw(st.text(characters, min_size=1, max_size=33)),
        },
        "citizens": citizens,
        "words": draw(st.lists(text, max_size=5)),
    }
    if draw(st.booleans()):
        report["schema_version"] = draw(st.integers(1, REPORT_SCHEMA_VERSION))
    event = draw(st.sampled_from([None, "absent", *(e.value for e in DroneEvent)]))
    if event != "absent":
        report["event"] = event
    return report


@st.composite
def alerts(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "alert_id": draw(ids),
        "kind": draw(st.sampled_from([k.value for k in AlertKind])),
        "severity": draw(st.sampled_from([s.value for s in Severity])),
        "drone_id": draw(ids),
        "zone": draw(ids),
        "citizens": draw(st.lists(ids, max_size=3)),
        "event_time": draw(timestamps(valid=True)),
        "detected_at": draw(timestamps(valid=True)),
        "reason": draw(st.text(characters, min_size=1, max_size=20)),
    }


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)  # what orjson can write
    | st.floats(allow_nan=False, allow_infinity=False)
    | text
    | any_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=6,
)


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


def _parent(obj: Any, path: tuple[Any, ...]) -> Any:
    for step in path[:-1]:
        obj = obj[step]
    return obj


@st.composite
def mutated(draw: st.DrawFn, valid: st.SearchStrategy[dict[str, Any]]) -> bytes:
    """One message: valid, or broken at the value, structure or byte level."""
    message = draw(valid)
    kind = draw(st.integers(0, 21))  # 0 and 15..21: left valid (about a third of the messages)
    paths = _paths(message)
    path = draw(st.sampled_from(paths))
    parent = _parent(message, path)
    if kind == 1:  # any JSON value anywhere
        parent[path[-1]] = draw(json_values)
    elif kind == 2 and isinstance(parent, dict):  # a missing field
        del parent[path[-1]]
    elif kind == 3:  # an unknown field, at the top or nested
        target = parent if isinstance(parent, dict) else message
        target[draw(st.sampled_from(["extra", "zone", "x" * 3, "schema_version"]))] = draw(json_values)
    elif kind == 4:  # numbers at and beyond their bounds, huge, tiny, negative zero
        parent[path[-1]] = draw(
            st.sampled_from(
                [-0.0, 1e308, -1e308, 5e-324, 2**63, -(2**63), 2**64 - 1, 100.0000001, -90.5, 0, 2, 1]
            )
        )
    elif kind == 5:  # time, written every which way
        message[draw(st.sampled_from([k for k in message if "time" in k or k == "detected_at"]))] = draw(
            timestamps(valid=False)
        )
    elif kind == 6:  # strings at their length limits, in several scripts
        parent[path[-1]] = draw(
            st.sampled_from(
                [
                    *("", "é" * 64, "é" * 65, "😀" * 32, "😀" * 65, "e\u0301" * 40, "\x00", "<b>[red]x"),
                    *("a\u202eb", "\u2066x\u2069", "a\u2028b", "\x85", "\x7f", "\x1b]0;t\x07", "\x1b[2J"),
                    *("\u200fשלום\u200e", "👩\u200d💻", "¡ ©", "’—…", "=1+2", "'; DROP TABLE x; --"),
                ]
            )
        )
    elif kind == 7:  # a schema version this code does not know, or in another type
        message["schema_version"] = draw(
            st.sampled_from([0, REPORT_SCHEMA_VERSION + 1, 999, -1, True, 1.0, "1", None])
        )
    elif kind == 13 and isinstance(parent[path[-1]], str):  # any text at all: controls, bidi, NUL
        parent[path[-1]] = draw(any_text)
    raw = orjson.dumps(message)
    if kind == 8:  # non-finite number literals, which some JSON parsers accept
        raw = raw.replace(b"100.5", draw(st.sampled_from([b"NaN", b"Infinity", b"-Infinity", b"1e999"])), 1)
    elif kind == 9:  # framing: a byte-order mark, whitespace, garbage, a second document, a bare value
        raw = draw(
            st.sampled_from(
                [
                    b"\xef\xbb\xbf" + raw,
                    b" " + raw + b" ",
                    raw + b"x",
                    raw + b" " + raw,
                    raw + b"\n" + raw,
                    raw[: len(raw) // 2],
                    b"null",
                    b"[]",
                    b"1",
                    b"",
                    b"\xff" + raw,
                    raw.replace(b",", b",\r", 1),
                ]
            )
        )
    elif kind == 10 and b'"zone":' in raw:  # a repeated key (the last one wins, as in orjson)
        raw = raw.replace(b'"zone":', b'"zone":"first","zone":', 1)
    elif kind == 12 and b'":"' in raw:  # a string spelled with escapes: lone surrogates, controls, pairs
        escape = draw(st.sampled_from([rb"\ud800", rb"\udc00x", rb"\ud83d\ude00", rb"\u0000", rb"\u001B",
                                       rb"\u202E", rb"\u00e9", rb"\n", rb"\t", rb"\\", rb"\"", rb"\/"]))  # fmt: skip
        raw = raw.replace(b'":"', b'":"' + escape, 1)
    elif kind == 14 and b'":"' in raw:  # bytes that are not UTF-8: overlong NUL, ESC and U+2028, surrogate
        bad = draw(
            st.sampled_from(
                [b"\xc0\x80", b"\xc1\x9b", b"\xf0\x82\x80\xa8", b"\xed\xa0\x80", b"\x80", b"\xff"]
            )
        )
        raw = raw.replace(b'":"', b'":"' + bad, 1)
    elif kind == 11:  # integers written as floats, numbers beyond 64 bits
        raw = re.sub(rb'"schema_version":(\d)', rb'"schema_version":\1.0', raw, count=1)
        raw = raw.replace(b"100.5", b"123456789012345678901234567890", 1)
    return raw


# How many examples the differential codec tests draw: 200 keeps `pytest -m 'not integration'` quick;
# `make test` (CI) asks for 1000.
EXAMPLES = int(os.environ.get("HARMONY_CODEC_EXAMPLES", "200"))
