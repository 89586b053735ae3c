"""The Quix application both alerting workers run on: at-least-once, tuned for latency over batching."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from quixstreams import Application

from alerting.bad_input import DeadLetters
from lakehouse.adapters.quix import KeepsStop, Rebalancing, RunsOfMessages
from lakehouse.settings import Settings
from lakehouse.stopping import STOP
from lakehouse.streaming.connection import connection
from lakehouse.streaming.state import processor_state_dir
from lakehouse.streaming.topics import require_topics

FETCH_BYTES_PER_PARTITION = 64 * 1024
MAX_RUN = 2_000  # messages one poll hands over at most (runs cut at partition changes keep the order)
logger = logging.getLogger("harmony.alerting")


def wait_for_topics(settings: Settings, topics: Iterable[str]) -> bool:
    """:func:`lakehouse.streaming.topics.require_topics`, waiting with back-off while the broker cannot
    be reached, as a worker started during an outage should; False if asked to stop meanwhile."""
    backoff_s = 1.0
    while True:
        try:
            require_topics(settings, topics)
            return True
        except ConnectionError as exc:
            logger.warning("%s; retrying in %.0fs", exc, backoff_s)
            if STOP.wait(backoff_s):
                return False
            backoff_s = min(30.0, backoff_s * 2)


class ResumingApplication(KeepsStop, Rebalancing, RunsOfMessages, Application):
    """Quix's ``Application`` reading its ``run_topics`` in runs of a partition's messages
    (``lakehouse.streaming.runs``), resuming a partition paused at an earlier assignment, and recording
    stop signals (each through Quix's one seam, :mod:`lakehouse.adapters.quix`)."""


def application(
    settings: Settings,
    group: str,
    commit_interval_s: float,
    dead_letters: DeadLetters,
    state_dir: Path | None = None,
    run_topics: frozenset[str] = frozenset(),
) -> Application:
    """At-least-once (alerts leave when raised; sinks are idempotent instead), state in RocksDB with
    changelog topics, the broker answering a fetch at once and the producer waiting 1 ms at most;
    ``run_topics`` arrive in runs of messages, the others one message at a time."""
    return ResumingApplication(
        run_topics=run_topics,
        max_run=MAX_RUN,
        broker_address=connection(settings),
        consumer_group=group,
        auto_offset_reset="earliest",
        commit_interval=commit_interval_s,
        processing_guarantee="at-least-once",
        state_dir=str(state_dir or processor_state_dir(settings.state_path, group)),
        use_changelog_topics=True,
        on_processing_error=dead_letters,
        on_consumer_error=dead_letters.on_consumer_error,  # a key or value Quix cannot deserialize
        # Small fetches per partition keep the partitions' event times close together while a backlog is
        # read (a backfill, a catch-up after a restart): a 1 MiB fetch of one drone partition spans half an
        # hour of a backfill's event time, and the zone rules, which see the partitions interleaved by
        # fetch, would find sightings from the partition behind too late for the riot window.
        consumer_extra_config={
            "fetch.wait.max.ms": 5,
            "session.timeout.ms": 10_000,
            "max.partition.fetch.bytes": FETCH_BYTES_PER_PARTITION,
        },
        # A delivery not confirmed in 20 s fails the checkpoint, and the runner resumes from the last one
        # (alerting/runner.py): a stalled producer must not hold the alerts back for librdkafka's 5 min
        # (its producer can keep messages queued after a broker restart: librdkafka issues 569, 1432).
        producer_extra_config={"linger.ms": 1, "message.timeout.ms": 20_000},
        loglevel="WARNING",
    )
