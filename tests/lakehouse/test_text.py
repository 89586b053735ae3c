"""The characters the contract's text admits: one set, read alike by the three engines that check it, and
always visible in the bytes the fast decoders look at."""

from __future__ import annotations

import json

import orjson
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import TypeAdapter, ValidationError

from lakehouse.codec import ContractError, decode
from lakehouse.schemas import NOT_TEXT_RE, PLAIN_TEXT, Citizen, StrictText, plain_json

EVERY_CHARACTER = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
DOCUMENTED = {
    *range(0x00, 0x20),
    *range(0x7F, 0xA0),
    *range(0x2028, 0x202F),
    *range(0x2066, 0x206A),
}


def test_rust_regex_re2_and_python_refuse_the_same_characters() -> None:
    """pydantic (Rust's regex), Arrow (RE2) and Python's ``re`` (terminals, messages) over every code
    point: each refuses exactly the documented set."""
    python = {ord(c) for c in EVERY_CHARACTER if NOT_TEXT_RE.search(c)}
    matched = pc.match_substring_regex(pa.array(EVERY_CHARACTER), PLAIN_TEXT).to_pylist()
    re2 = {ord(c) for c, ok in zip(EVERY_CHARACTER, matched, strict=True) if not ok}
    adapter = TypeAdapter(StrictText)
    rust = set()
    for c in EVERY_CHARACTER:
        try:
            adapter.validate_python(c)
        except ValidationError:
            rust.add(ord(c))
    assert python == re2 == rust == DOCUMENTED


def test_every_refused_character_shows_in_the_bytes() -> None:
    """The fast decoders skip the text check when ``plain_json`` holds: no refused character may be
    written in JSON without one of its lead bytes, raw (orjson) or escaped (``ensure_ascii``)."""
    for c in map(chr, sorted(DOCUMENTED)):
        assert not plain_json(orjson.dumps({"name": c}))
        assert not plain_json(json.dumps({"name": c}).encode())
        assert not plain_json(json.dumps({"name": c}, ensure_ascii=False).encode())
    assert plain_json(b'{"name":"Ana Lu\xc3\xads Z\xc3\xbcrich"}'), "Latin letters stay on the fast path"


def test_the_reason_names_the_character_and_where() -> None:
    raw = orjson.dumps({"citizen_id": "c-1", "name": "ab\u202ecd", "harmony_score": 3})
    try:
        decode(Citizen, raw)
    except ContractError as exc:
        assert exc.field == "name"
        assert exc.reason.startswith("text holds U+202E at character 2")
        assert not NOT_TEXT_RE.search(exc.reason), "the reason never carries the character itself"
    else:
        raise AssertionError("a bidi override was accepted")


def test_marks_and_joiners_are_kept() -> None:
    for name in ("\u200f\u05e9\u05dc\u05d5\u05dd\u200e", "\U0001f469\u200d\U0001f4bb", "e\u0301", "<b>[red]"):
        assert (
            decode(Citizen, orjson.dumps({"citizen_id": "c", "name": name, "harmony_score": 1})).name == name
        )
