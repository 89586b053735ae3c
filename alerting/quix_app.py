"""The Quix application both alerting workers run on: at-least-once, tuned for latency over batching."""

from __future__ import annotations

from pathlib import Path

from quixstreams import Application

from alerting.bad_input import DeadLetters
from lakehouse.settings import Settings


def application(
    settings: Settings,
    group: str,
    commit_interval_s: float,
    dead_letters: DeadLetters,
    state_dir: Path | None = None,
) -> Application:
    """At-least-once (alerts leave when raised; sinks are idempotent instead), state in RocksDB with
    changelog topics, the broker answering a fetch at once and the producer waiting 1 ms at most."""
    return Application(
        broker_address=settings.kafka.bootstrap_servers,
        consumer_group=group,
        auto_offset_reset="earliest",
        commit_interval=commit_interval_s,
        processing_guarantee="at-least-once",
        state_dir=str(state_dir or settings.state_path / "alerting" / group),
        use_changelog_topics=True,
        on_processing_error=dead_letters,
        consumer_extra_config={"fetch.wait.max.ms": 5, "session.timeout.ms": 10_000},
        producer_extra_config={"linger.ms": 1},
        loglevel="WARNING",
    )
