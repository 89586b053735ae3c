"""The parking queue under a long outage: bounded, appended (never rewritten per checkpoint), durable,
and re-sent in order after a restart. Server-free: the target is a small in-process implementation."""

from __future__ import annotations

from pathlib import Path

import pytest
from quixstreams.sinks.base import SinkBackpressureError

from lakehouse.codec import decode, encode
from lakehouse.schemas import Alert
from testkit.parking import Target, alert, feed, wait_for


def test_a_long_outage_is_bounded_appended_and_dead_lettered_beyond_the_limit(tmp_path: Path) -> None:
    sink = Target(tmp_path / "spool.jsonl", limit=1_000)
    sink.setup()
    for checkpoint in range(30):  # 30 checkpoints of 200 alerts: 6,000 alerts against a limit of 1,000
        feed(sink, checkpoint * 200, 200)
        before = sink.spool.path.stat().st_size if sink.spool.path.exists() else 0
        sink.flush()
        written = sink.spool.path.stat().st_size - before
        # Only this checkpoint's alerts were appended: its cost does not grow with the backlog.
        assert written == sum(
            len(encode(alert(i))) + 1 for i in range(checkpoint * 200, checkpoint * 200 + 200)
        )
    assert sink.parked == 1_000, "memory is bounded by the parking limit"
    assert len(sink.dead) == 5_000 and all("parking limit of 1000" in r for _, r in sink.dead)
    assert [decode(Alert, b).alert_id for b, _ in sink.dead] == [f"a-{i}" for i in range(5_000)], (
        "oldest first"
    )
    sink.up = True
    wait_for(lambda: sink.parked == 0)
    assert sink.received == [f"a-{i}" for i in range(5_000, 6_000)]
    sink.flush()
    assert sink.spool.path.stat().st_size == 0, "a drained spool is truncated"
    sink.close()


def test_a_restart_re_sends_the_parked_backlog_in_order(tmp_path: Path) -> None:
    first = Target(tmp_path / "spool.jsonl")
    first.setup()
    feed(first, 0, 300)
    first.flush()  # durable before Kafka offsets are committed
    first.close()  # the process ends with 300 alerts parked
    second = Target(tmp_path / "spool.jsonl")
    second.up = True
    second.setup()
    feed(second, 300, 10)  # new alerts queue behind the parked ones
    wait_for(lambda: second.parked == 0)
    assert second.received == [f"a-{i}" for i in range(310)]
    second.close()


def test_backpressure_instead_of_dropping(tmp_path: Path) -> None:
    sink = Target(tmp_path / "spool.jsonl", limit=100, overflow="backpressure")
    sink.setup()
    feed(sink, 0, 80)
    sink.flush()
    feed(sink, 80, 40)
    with pytest.raises(SinkBackpressureError):
        sink.flush()  # over the limit: the consumer pauses and replays these 40 later
    assert sink.parked == 80 and sink.dead == []
    sink.up = True
    wait_for(lambda: sink.parked == 0)
    feed(sink, 80, 40)  # the replay
    sink.flush()
    wait_for(lambda: sink.parked == 0)
    assert sink.received == [f"a-{i}" for i in range(120)]
    sink.close()
