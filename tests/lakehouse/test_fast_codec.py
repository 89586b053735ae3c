"""The fast (msgspec) and slow (pydantic) single-message decoders accept exactly the same messages, with
the same values.

The same hostile messages as the Arrow decoder's differential test (``testkit/messages.py``: types, ranges,
non-finite numbers, time formats, unicode, missing, extra and repeated fields, nesting, framing), and
``decode_fast`` checked against ``decode`` message by message; also that the fast path really is the one
taken for valid messages (else the test would compare pydantic with itself).
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, event, given, reject, settings
from pydantic import BaseModel, ValidationError

from lakehouse.codec import ContractError, decode, encode
from lakehouse.fast_codec import _decoder, decode_fast
from lakehouse.schemas import Alert, DroneReport, plain_json
from testkit.messages import EXAMPLES, alerts, mutated, reports


def _plain(value: Any) -> Any:
    """A Struct (and its nested Structs) as the dict pydantic's ``model_dump`` gives; pydantic's own
    instance (what ``decode_fast`` hands over when msgspec may not decide) as its ``model_dump``."""
    if isinstance(value, BaseModel):
        return value.model_dump()
    if isinstance(value, msgspec.Struct):
        return {f: _plain(getattr(value, f)) for f in value.__struct_fields__}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _assert_agree(model: type[BaseModel], raw: bytes) -> None:
    try:
        expected: dict[str, Any] | None = decode(model, raw).model_dump()
    except ContractError:
        expected = None
    try:
        got: dict[str, Any] | None = _plain(decode_fast(model, raw))
    except ContractError:
        got = None
    event("accepted" if expected is not None else "refused")
    assert got == expected, f"the decoders disagree on {raw!r}"
    if got is not None and expected is not None:  # types too: a float stays a float, an enum an enum
        assert {k: type(v) for k, v in got.items()} == {k: type(v) for k, v in expected.items()}


@settings(max_examples=EXAMPLES * 4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(reports()))
def test_reports_decode_alike_on_both_paths(raw: bytes) -> None:
    _assert_agree(DroneReport, raw)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(alerts()))
def test_alerts_decode_alike_on_both_paths(raw: bytes) -> None:
    _assert_agree(Alert, raw)


@settings(max_examples=50, deadline=None)
@given(reports())
def test_a_valid_report_takes_the_fast_path(report: dict[str, Any]) -> None:
    try:
        raw = encode(DroneReport.model_validate(report))
    except ValidationError:
        reject()  # the strategy also draws values just past the bounds, for the mutations above
    decoder = _decoder(DroneReport)
    assert decoder is not None, "the contract has a part the fast path does not mirror"
    # msgspec decides every valid report whose bytes prove the text check; the others are pydantic's
    assert isinstance(decode_fast(DroneReport, raw), msgspec.Struct) == plain_json(raw)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"report_id": 1}', "report_id"),
        (b"null", "$"),
        (b"[1]", "$"),
        (b"{", "$"),
    ],
)
def test_refused_messages_get_pydantics_reason(raw: bytes, field: str) -> None:
    with pytest.raises(ContractError) as err:
        decode_fast(DroneReport, raw)
    assert err.value.field == field
