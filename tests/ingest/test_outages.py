"""An ingest worker rides out an outage of S3 (MinIO) or of the catalog (PostgreSQL): no exit, no
traceback, one line while the server is away, and the lake exact once it is back."""

from __future__ import annotations

import os
import signal
import time

import pytest

from stack import manager
from stack.services.base import Service
from stack.services.minio import MinIO
from stack.services.postgres import Postgres
from testkit.alert_lane import alive
from testkit.checker import check_lake, no_tracebacks
from testkit.ingest_lane import Lane, assert_exact


@pytest.mark.parametrize(("service", "kill"), [(MinIO, signal.SIGKILL), (Postgres, signal.SIGQUIT)])
def test_worker_rides_out_a_server_outage(lane: Lane, service: type[Service], kill: signal.Signals) -> None:
    produced = 60_000
    worker = lane.worker("w")
    sim = lane.simulate("--count", str(produced), "--rate", "6000")
    time.sleep(5)
    server = service(lane.settings)
    pid = server.running_pid()
    assert pid is not None
    os.kill(pid, kill)  # MinIO crashes; PostgreSQL's immediate shutdown cuts every connection
    while alive(pid):
        time.sleep(0.1)
    time.sleep(8)  # commits fail meanwhile
    manager.up(lane.settings)
    assert sim.wait(120) == 0
    lane.wait_landed(produced)
    assert worker.poll() is None, f"the worker exited during the outage:\n{lane.log('w')[-3000:]}"
    worker.terminate()
    assert worker.wait(60) == 0
    log = lane.log("w")
    assert "a server is unreachable or failing" in log and "landing resumed" in log
    no_tracebacks(log)
    assert_exact(lane, produced)
    assert check_lake(lane.settings, lane.topic, lane.namespace, lane.group).reports == produced


@pytest.mark.parametrize(("service", "kill"), [(MinIO, signal.SIGKILL), (Postgres, signal.SIGQUIT)])
def test_a_worker_started_during_an_outage_waits_for_the_server(
    lane: Lane, service: type[Service], kill: signal.Signals
) -> None:
    """Started while S3 or the catalog is down, a worker waits (one line per attempt), then lands
    everything once the server is back (it used to exit with a traceback; found by the soak)."""
    produced = 20_000
    assert lane.simulate("--count", str(produced), "--start", "2026-09-01").wait(120) == 0
    server = service(lane.settings)
    pid = server.running_pid()
    assert pid is not None
    os.kill(pid, kill)
    while alive(pid):
        time.sleep(0.1)
    worker = lane.worker("w")
    time.sleep(8)
    assert worker.poll() is None, f"the worker exited at start:\n{lane.log('w')[-3000:]}"
    assert "unreachable or failing at start" in lane.log("w")
    manager.up(lane.settings)
    lane.wait_landed(produced)
    worker.terminate()
    assert worker.wait(60) == 0
    no_tracebacks(lane.log("w"))
    assert check_lake(lane.settings, lane.topic, lane.namespace, lane.group).reports == produced
