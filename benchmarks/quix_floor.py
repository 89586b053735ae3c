"""What Quix Streams costs on its own, for the throughput benchmarks' same-run baselines.

These apps keep exactly the processors' topology and configuration and do no work of ours at all (no
decode, no rules, no Iceberg), so the rate they reach is the most any worker built on that topology can
reach on this machine in the same run:

- ``sink_floor``: the ingest topology, its topic in runs of messages (``lakehouse.streaming.runs``)
  into a sink that drops them; ``per_message_sink_floor``: the same on Quix's one message at a time,
  the topology before runs (its ceiling was below the Python ceiling of the whole ingest);
- ``rules_floor``: the rules topology, a source topic in runs, a share of the messages repartitioned by
  zone (the real rules send one per zone and run), one state read and write per repartitioned message.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from quixstreams import Application
from quixstreams.sinks import BatchingSink, SinkBatch
from quixstreams.sinks.base import BaseSink
from quixstreams.state import State

from alerting.bad_input import DeadLetters
from alerting.quix_app import application
from ingest.app import MAX_RUN
from lakehouse.adapters.quix import RunsOfMessages
from lakehouse.settings import Settings
from lakehouse.streaming.connection import connection
from lakehouse.streaming.runs import MessageRun
from testkit.alert_lane import topic_ends

ZONES = 16


class _Clock:
    """First and last moment a message was handled, and how many were; stops the app at ``total``."""

    def __init__(self, total: int) -> None:
        self.total, self.seen = total, 0
        self.first = self.last = 0.0
        self.first_n = 0
        self.app: Application | None = None

    def tick(self, n: int = 1) -> None:
        now = time.perf_counter()
        if not self.seen:
            self.first, self.first_n = now, n
        self.seen += n
        self.last = now
        if self.seen >= self.total and self.app is not None:
            self.app.stop()

    def rate(self) -> float:
        return (self.seen - self.first_n) / (self.last - self.first)  # what came after the first tick


class _Drop(BatchingSink):
    def __init__(self, clock: _Clock) -> None:
        super().__init__()
        self.clock = clock

    def add(self, *args: Any, **kwargs: Any) -> None:
        super().add(*args, **kwargs)
        self.clock.tick()

    def write(self, batch: SinkBatch) -> None:
        return None


class _RunsApp(RunsOfMessages, Application):
    pass


class _DropRuns(BaseSink):
    """Drops each run it is handed, counting its messages."""

    def __init__(self, clock: _Clock) -> None:
        super().__init__()
        self.clock = clock

    def add(self, value: MessageRun, *args: Any, **kwargs: Any) -> None:
        self.clock.tick(len(value))

    def flush(self) -> None:
        return None


def _ingest_like(settings: Settings) -> dict[str, Any]:
    """The ingest app's consumer settings, in a group of the floor's own."""
    return {
        "broker_address": connection(settings),
        "consumer_group": f"floor-{uuid.uuid4().hex[:6]}",
        "auto_offset_reset": "earliest",
        "commit_interval": settings.ingest.commit_interval_s,
        "consumer_extra_config": {"fetch.min.bytes": 1, "queued.max.messages.kbytes": 262_144},
        "loglevel": "WARNING",
        "use_changelog_topics": False,
    }


def sink_floor(settings: Settings, topic: str) -> float:
    """Messages/s of the ingest topology (its topic in runs of messages, ``lakehouse.streaming.runs``)
    with a sink that drops everything (same consumer settings)."""
    clock = _Clock(sum(topic_ends(settings, topic).values()))
    app = _RunsApp(run_topics=frozenset({topic}), max_run=MAX_RUN, **_ingest_like(settings))
    return _drain(app, topic, _DropRuns(clock), clock)


def per_message_sink_floor(settings: Settings, topic: str) -> float:
    """The same on Quix's own one message at a time, the topology ingest had before runs (a batching sink
    that drops its batches)."""
    clock = _Clock(sum(topic_ends(settings, topic).values()))
    app = Application(commit_every=settings.ingest.max_rows, **_ingest_like(settings))
    return _drain(app, topic, _Drop(clock), clock)


def _drain(app: Application, topic: str, sink: BaseSink, clock: _Clock) -> float:
    """Run ``app`` with ``topic`` into ``sink`` until the clock has seen every message; its rate."""
    clock.app = app
    app.dataframe(app.topic(topic, value_deserializer="bytes", key_deserializer="bytes")).sink(sink)
    app.run()
    return clock.rate()


def _picked(offset: int, permille: int) -> bool:
    return (offset * 2654435761) % 1000 < permille


def rules_floor(settings: Settings, topic: str, share: float) -> float:
    """Messages/s of the rules topology: the source topic in runs, ``share`` of the messages (picked by
    offset; the real worker sends one per zone and run) crossing a repartition by zone to a stateful
    step, one state read and write each; counted when the zone step has handled the last of them."""
    permille = round(share * 1000)
    ends = topic_ends(settings, topic).values()
    total = sum(sum(_picked(o, permille) for o in range(end)) for end in ends)
    messages = sum(ends)
    clock = _Clock(total)
    group = f"floor-{uuid.uuid4().hex[:6]}"
    app = application(
        settings, group, settings.alerting.commit_interval_s, DeadLetters(settings, "floor"),
        run_topics=frozenset({topic}),
    )  # fmt: skip
    clock.app = app
    start: list[float] = []

    def zones(run: MessageRun) -> list[dict[str, str]]:
        if not start:
            start.append(time.perf_counter())
        return [{"zone": str(o % ZONES)} for o in run.offsets if _picked(o, permille)]

    def count(_value: dict[str, str], state: State[str, Any]) -> None:
        state.set("n", state.get("n", 0) + 1)
        clock.tick()

    source = app.dataframe(app.topic(topic, value_deserializer="bytes", key_deserializer="bytes"))
    picked = source.apply(zones, expand=True)
    picked.group_by(lambda v: v["zone"], name="floor").update(count, stateful=True)
    app.run()
    return (messages - 1) / (clock.last - start[0])
