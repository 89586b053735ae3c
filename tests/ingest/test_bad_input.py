"""Malformed messages go to the dead-letter topic with their reason; good ones around them all land."""

from __future__ import annotations

import orjson
from confluent_kafka import Producer

from lakehouse.dead_letters import HEADER_ORIGINAL, HEADER_REASON
from testkit.dead_letters import dead_letters_from
from testkit.ingest_lane import Lane


def test_malformed_messages_are_dead_lettered_and_good_ones_land(lane: Lane) -> None:
    assert lane.simulate("--start", "2026-09-01", "--count", "3000").wait(120) == 0
    valid = orjson.loads(
        b'{"schema_version":1,"report_id":"x1","drone_id":"drone-0001","event_time":"2026-09-01T00:00:00.000Z",'
        b'"position":{"lat":48.85,"lon":2.3,"altitude_m":100},"zone":"Cathedral","health":{"battery_pct":50,'
        b'"motor_temp_c":40,"signal_dbm":-60,"firmware":"2.4.0"},"citizens":[],"words":[]}'
    )
    wrong_type = {**valid, "report_id": "x2", "position": {**valid["position"], "lat": "north"}}
    missing = {k: v for k, v in valid.items() if k != "zone"} | {"report_id": "x3"}
    out_of_range = {
        **valid,
        "report_id": "x4",
        "citizens": [{"citizen_id": "c", "name": "n", "harmony_score": 140}],
    }
    bad = {
        b"not json at all": "not valid JSON",
        orjson.dumps(wrong_type): "position.lat",
        orjson.dumps(missing): "zone",
        orjson.dumps(out_of_range): "citizens.0.harmony_score",
        orjson.dumps({**valid, "report_id": "x5", "words": ["w" * 100] * 20_000}): "exceeds",
    }
    producer = Producer(lane.settings.kafka.client({"message.max.bytes": 8_000_000}))
    for value in bad:
        producer.produce(lane.topic, value=value, key=b"drone-0001")
    producer.produce(lane.topic, value=orjson.dumps(valid), key=b"drone-0001")
    assert producer.flush(30) == 0
    assert lane.simulate("--start", "2026-09-02", "--count", "2000").wait(120) == 0
    produced_good = 3000 + 1 + 2000

    worker = lane.worker("w")
    lane.wait_landed(produced_good + len(bad))
    worker.terminate()
    worker.wait(30)

    reports, distinct, observations, citizens = lane.counts()
    assert reports == distinct == produced_good
    assert observations == citizens
    letters = dead_letters_from(lane.settings, lane.topic)
    assert len(letters) == len(bad)
    originals = {h[HEADER_ORIGINAL]: (v, h) for v, h in letters}
    assert set(originals) == set(bad)
    for original, expected in bad.items():
        record, headers = originals[original]
        assert expected in headers[HEADER_REASON].decode(), (expected, headers[HEADER_REASON])
        assert record["processor"] == "ingest-reports" and record["original_bytes"] == len(original)
    assert "dead_lettered" in lane.log("w")
