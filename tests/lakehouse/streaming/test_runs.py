"""Runs of a partition's messages (``lakehouse.streaming.runs``): the private Quix hooks they rely on,
checked on a plain list and against the real broker."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from quixstreams import Application
from quixstreams.sinks.base import BaseSink, SinkBackpressureError

from lakehouse.adapters.quix import RunsOfMessages
from lakehouse.settings import Settings
from lakehouse.streaming.connection import connection
from lakehouse.streaming.runs import RUN_KEY, MessageRun, runs_of
from testkit.alert_lane import group_behind, topic_ends


class Msg:
    """What ``runs_of`` reads of a confluent-kafka message."""

    def __init__(self, topic: str, partition: int, offset: int) -> None:
        self._t, self._p, self._o = topic, partition, offset

    def topic(self) -> str:
        return self._t

    def partition(self) -> int:
        return self._p

    def offset(self) -> int:
        return self._o

    def value(self) -> bytes:
        return f"{self._p}:{self._o}".encode()

    def key(self) -> bytes:
        return b"k"

    def timestamp(self) -> tuple[int, int]:
        return (1, 1000 + self._o)


def test_runs_are_cut_where_the_partition_changes_and_keep_the_order() -> None:
    polled = [Msg("r", 0, 0), Msg("r", 0, 1), Msg("r", 1, 0), Msg("x", 0, 5), Msg("r", 1, 1), Msg("r", 0, 2)]
    out = list(runs_of(polled, frozenset({"r"})))
    shape = [(o.partition, o.offsets) if isinstance(o, MessageRun) else ("x", o.offset()) for o in out]
    assert shape == [(0, [0, 1]), (1, [0]), ("x", 5), (1, [1]), (0, [2])]
    first = out[0]
    assert isinstance(first, MessageRun)
    assert first.values == [b"0:0", b"0:1"] and first.timestamps == [1000, 1001] and first.size == 8
    row = first.row()
    assert (row.offset, row.partition, row.key, row.timestamp) == (1, 0, RUN_KEY, 1001), (
        "a run's row is its last"
    )


class RunsApp(RunsOfMessages, Application):
    pass


class Landing(BaseSink):
    """Keeps what it is handed until its flush; its first ``refusals`` flushes refuse (back-pressure)."""

    def __init__(self, refusals: int) -> None:
        super().__init__()
        self.refusals = refusals
        self.pending: list[MessageRun] = []
        self.landed: list[MessageRun] = []

    def add(self, value: MessageRun, *args: Any, **kwargs: Any) -> None:
        self.pending.append(value)

    def flush(self) -> None:
        if self.refusals:
            self.refusals -= 1
            self.pending = []
            raise SinkBackpressureError(retry_after=0.5)
        self.landed += self.pending
        self.pending = []


@pytest.fixture
def topic(stack: Settings) -> Iterator[tuple[str, dict[int, int]]]:
    name = f"test-runs-{uuid.uuid4().hex[:6]}"
    admin = AdminClient(stack.kafka.client())
    admin.create_topics([NewTopic(name, 4, 1)])[name].result(15)
    producer = Producer(stack.kafka.client({"linger.ms": 5}))
    for i in range(20_000):
        producer.produce(name, value=str(i).encode(), key=str(i % 13).encode())
    producer.flush(30)
    yield name, topic_ends(stack, name)
    admin.delete_topics([name])[name].result(15)


def _run(settings: Settings, topic: str, group: str, sink: Landing, max_run: int) -> None:
    app = RunsApp(
        run_topics=frozenset({topic}),
        max_run=max_run,
        broker_address=connection(settings),
        consumer_group=group,
        auto_offset_reset="earliest",
        commit_interval=0.2,
        use_changelog_topics=False,
        loglevel="WARNING",
    )
    app.dataframe(app.topic(topic, value_deserializer="bytes", key_deserializer="bytes")).sink(sink)
    app.run(timeout=4)


@pytest.mark.parametrize("refusals", [0, 2])
def test_every_message_lands_once_in_offset_order_and_the_group_commits_the_ends(
    stack: Settings, topic: tuple[str, dict[int, int]], refusals: int
) -> None:
    """Runs cover each partition once, in order, whole (back-pressure drops the batch and Quix replays
    it from the checkpoint, which runs must not break), and a run's offset is what the group commits."""
    name, ends = topic
    group = f"test-runs-{uuid.uuid4().hex[:6]}"
    sink = Landing(refusals)
    _run(stack, name, group, sink, max_run=700)
    assert sink.refusals == 0, "the sink was flushed as often as asked"
    per_partition: dict[int, list[int]] = {}
    for run in sink.landed:
        assert run.topic == name and len(run) <= 700
        assert run.offsets == sorted(run.offsets)
        per_partition.setdefault(run.partition, []).extend(run.offsets)
    assert {p: len(o) for p, o in per_partition.items()} == {p: e for p, e in ends.items() if e}
    for p, offsets in per_partition.items():
        assert offsets == list(range(ends[p])), f"partition {p}: offsets lost, repeated or out of order"
    assert any(len(run) > 1 for run in sink.landed), "a backlog comes in runs, not one message at a time"
    assert not group_behind(stack, group, name, ends)
    # a second life of the group finds nothing left to do
    again = Landing(0)
    _run(stack, name, group, again, max_run=700)
    assert again.landed == []
