"""Faults while the simulator produces at a steady rate; after each, the checker compares the lake with the
source topic read back (``checker.check_lake``). The CI profile: each fault once, fixed seeds."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from stack import manager
from stack.services.base import Service
from stack.services.kafka import Kafka
from stack.services.minio import MinIO
from tests.alerting.conftest import alive
from tests.ingest.conftest import Lane
from tests.reliability.checker import check_lake, no_tracebacks

PRODUCED = 40_000
RATE = "5000"

# The commit protocol's steps (ingest/writer.py, ingest/sink.py), in order.
STEPS = [
    "ingest.before_data_files",
    "ingest.after_data_files",
    "ingest.after_metadata_file",
    "ingest.after_catalog_swap",
    "ingest.before_kafka_commit",
]


def finish(lane: Lane, worker_name: str, worker: subprocess.Popen[bytes]) -> None:
    """Wait until the lake holds the whole topic, stop the worker cleanly, run the checker."""
    try:
        lane.wait_landed(PRODUCED)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the worker's log:\n{lane.log(worker_name)[-4000:]}") from None
    assert worker.poll() is None, f"the worker exited:\n{lane.log(worker_name)[-3000:]}"
    worker.terminate()
    assert worker.wait(60) == 0
    no_tracebacks(lane.log(worker_name))
    checked = check_lake(lane.settings, lane.topic, lane.namespace, lane.group)
    assert checked.reports == PRODUCED


@pytest.mark.parametrize("step", STEPS)
def test_a_worker_killed_at_each_step_of_the_commit_protocol(lane: Lane, step: str) -> None:
    """kill -9 at the step (on its third pass, mid-stream), then a fresh worker: nothing lost or twice."""
    sim = lane.simulate("--count", str(PRODUCED), "--rate", RATE, "--seed", "13")
    doomed = lane.worker("doomed", env={"HARMONY_FAILPOINTS": f"{step}@3"})
    assert doomed.wait(120) == -signal.SIGKILL, f"{step} never fired:\n{lane.log('doomed')[-2000:]}"
    worker = lane.worker("w")
    assert sim.wait(120) == 0
    finish(lane, "w", worker)


def stop_and_restart(lane: Lane, service: type[Service], sig: signal.Signals, down_s: float) -> None:
    server = service(lane.settings)
    pid = server.running_pid()
    assert pid is not None, f"{service.__name__} is not running"
    os.kill(pid, sig)
    deadline = time.monotonic() + 60
    while alive(pid):
        assert time.monotonic() < deadline, f"{service.__name__} did not stop on {sig.name}"
        time.sleep(0.1)
    time.sleep(down_s)
    manager.up(lane.settings)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "kill-9"])
def test_the_broker_stopped_and_restarted_mid_stream(lane: Lane, sig: signal.Signals) -> None:
    worker = lane.worker("w")
    sim = lane.simulate("--count", str(PRODUCED), "--rate", RATE, "--seed", "17")
    time.sleep(4)
    stop_and_restart(lane, Kafka, sig, down_s=5)
    assert sim.wait(180) == 0, "the simulator rides out the broker's restart too"
    finish(lane, "w", worker)


def test_minio_frozen_for_15_s_mid_upload(lane: Lane) -> None:
    worker = lane.worker("w")
    sim = lane.simulate("--count", str(PRODUCED), "--rate", RATE, "--seed", "19")
    time.sleep(4)
    pid = MinIO(lane.settings).running_pid()
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(15)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert sim.wait(120) == 0
    finish(lane, "w", worker)
