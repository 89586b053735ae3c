"""A stop (SIGTERM) that lands while a worker waits to run its Quix app again is not lost (found by the
reliability soak: the orchestrator's stop went to the finished app's handler, and the worker ran on)."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator

import pytest
from quixstreams.checkpointing.exceptions import CheckpointConsumerCommitError

from alerting.quix_app import ResumingApplication
from alerting.runner import resuming
from lakehouse.stopping import STOP


@pytest.fixture(autouse=True)
def fresh_stop() -> Iterator[None]:
    handlers = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    STOP.reset()
    yield
    STOP.reset()
    signal.signal(signal.SIGTERM, handlers[0])
    signal.signal(signal.SIGINT, handlers[1])


def test_a_sigterm_during_the_back_off_stops_the_worker() -> None:
    runs = []

    def run_once() -> None:
        runs.append(1)
        if len(runs) > 1:
            return  # the bug: a second run (which would run until killed)
        # What Quix leaves behind: its handler, bound to an app that is no longer running.
        signal.signal(signal.SIGTERM, lambda *_: None)
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM)).start()
        raise CheckpointConsumerCommitError("the broker is away")

    resuming("test", run_once)  # backs off 1 s: the SIGTERM lands in the back-off
    assert runs == [1], "no second run after the stop"


def test_a_sigterm_quix_handles_is_kept_for_the_next_run() -> None:
    app = ResumingApplication(broker_address="127.0.0.1:1", consumer_group="test-stopping")
    app._on_sigterm()  # what Quix's handler calls inside run()
    assert STOP.requested
    runs = []
    resuming("test", lambda: runs.append(1))
    assert runs == [], "a worker asked to stop does not start another run"
