"""What crosses the zone repartition: this version's zone message, and the two shapes before it that
may still be in the topic after an upgrade."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from alerting.app import ZoneStep, _as_carried
from alerting.rules import LowCitizen, Sighting, ZoneRules
from lakehouse.codec import ContractError
from lakehouse.settings import RuleSettings
from testkit.state import DictState

RULES = RuleSettings(
    low_harmony_threshold=30, riot_min_citizens=2, riot_window_minutes=5, citizen_cooldown_minutes=10
)
T = int(datetime(2026, 9, 1, tzinfo=UTC).timestamp() * 1000)


def seen(cid: str, t: int) -> Sighting:
    return Sighting(zone="Z", drone_id="d", report_id=f"r{t}", event_ms=t,
                    lows=[LowCitizen(citizen_id=cid, name=cid, harmony_score=5.0)])  # fmt: skip


def test_every_shape_reaches_the_rules() -> None:
    a, b = seen("a", T), seen("b", T + 1000)
    assert _as_carried({"zone": "Z", "sightings": [a, b], "alerts": []})["sightings"] == [a, b]
    assert _as_carried(dict(a))["sightings"] == [a], "a bare sighting (two versions ago)"
    assert _as_carried({"zone": "Z", "sighting": b, "alerts": []})["sightings"] == [b], "one report's"
    assert _as_carried({"zone": "Z", "sighting": None, "alerts": []})["sightings"] == []


def test_a_zone_message_of_two_sightings_opens_the_riot() -> None:
    step = ZoneStep(ZoneRules(RULES))
    alerts = step({"zone": "Z", "sightings": [seen("a", T), seen("b", T + 1000)], "alerts": []}, DictState())  # type: ignore[arg-type]
    kinds = sorted(a.kind.value for a in alerts)
    assert kinds == ["low_harmony", "low_harmony", "riot"] and step.raised == 3


@pytest.mark.parametrize(
    "value",
    [
        "not a dict",
        [1, 2],
        {"zone": 5, "sightings": [], "alerts": []},
        {"zone": "Z", "sightings": [{"zone": "Z"}], "alerts": []},
        {"zone": "Z", "sightings": [], "alerts": [{"alert_id": "x"}]},
        {"zone": "Z", "sightings": [seen("a\x1b]0;x", T)], "alerts": []},
        {"zone": "Z", "sightings": [seen("c" * 200, T)], "alerts": []},
        {"zone": "Z", "sightings": [{**seen("a", T), "zone": ""}], "alerts": []},
        {"zone": "Z", "sightings": [{**seen("a", T), "event_ms": 10**18}], "alerts": []},
    ],
)
def test_a_zone_message_no_report_could_make_is_a_contract_error_and_stores_nothing(value: object) -> None:
    """The repartition topic is Kafka's: whoever can write to it can write anything. Such a message is
    dead-lettered (a ContractError), never a crash, and the zone's state is left as it was."""
    step, state = ZoneStep(ZoneRules(RULES)), DictState()
    with pytest.raises(ContractError):
        step(value, state)  # type: ignore[arg-type]
    assert not state.data, "nothing stored"
    alerts = step({"zone": "Z", "sightings": [seen("a", T)], "alerts": []}, state)  # type: ignore[arg-type]
    assert [a.kind.value for a in alerts] == ["low_harmony"], "the next message goes on"
