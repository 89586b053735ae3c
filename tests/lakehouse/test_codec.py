"""``decode`` validates the JSON bytes with pydantic directly and falls back to orjson + pydantic on any
refusal: the two paths must accept the same messages and give equal values, or a hostile message could
be accepted by the fast path that the contract refuses."""

from __future__ import annotations

import os

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from lakehouse.codec import ContractError, decode, decode_slow
from lakehouse.schemas import Alert, DroneReport
from tests.messages import alerts, mutated, reports

EXAMPLES = int(os.environ.get("HARMONY_CODEC_EXAMPLES", "200"))


def _agree(model: type[BaseModel], raw: bytes) -> None:
    try:
        expected: BaseModel | str = decode_slow(model, raw)
    except ContractError as exc:
        expected = str(exc)
    try:
        got: BaseModel | str = decode(model, raw)
    except ContractError as exc:
        got = str(exc)
    assert got == expected, raw


@settings(max_examples=EXAMPLES * 2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(reports()))
def test_reports_decode_alike_on_both_paths(raw: bytes) -> None:
    _agree(DroneReport, raw)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(alerts()))
def test_alerts_decode_alike_on_both_paths(raw: bytes) -> None:
    _agree(Alert, raw)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    reports(),
    st.sampled_from([b"\\ud800", b"\\udfff", b"\xed\xa0\x80", b"\x00", b"\t", b"\\u0000", b"\xff"]),
)
def test_text_only_orjson_refuses_is_refused_with_its_reason(report: dict[str, object], bad: bytes) -> None:
    """Lone surrogates, raw control characters and invalid UTF-8 inside a valid report's text."""
    raw = orjson.dumps(report).replace(b'"zone":"', b'"zone":"' + bad, 1)
    _agree(DroneReport, raw)


def test_a_lone_surrogate_is_refused() -> None:
    with pytest.raises(ContractError, match="not valid JSON"):
        decode(DroneReport, b'{"zone":"\\ud800"}')
