"""`harmony ingest --count N` stops after N messages (not N runs of them), with what it read landed."""

from __future__ import annotations

from testkit.ingest_lane import Lane


def test_count_stops_after_that_many_messages_and_lands_them(lane: Lane) -> None:
    lane.simulate("--start", "2026-09-01", "--count", "30000").wait(120)
    worker = lane.worker("counted", "--count", "1000", "--timeout", "60")
    assert worker.wait(120) == 0, lane.log("counted")
    landed = lane.landed()
    # It stops at the run that reaches 1,000 (a run is what one poll held of one partition), well
    # before the 30,000 it could have read, and lands everything it read.
    assert 1000 <= landed < 30000, (landed, lane.log("counted"))
    assert f"landed {landed:,} rows" in lane.log("counted")
