"""Injecting a fault into a server of the stack: a signal to its process, and the stack brought back."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from lakehouse.settings import Settings
from stack import manager
from stack.services.base import Service
from testkit.alert_lane import alive
from testkit.checker import check_lake, no_tracebacks
from testkit.ingest_lane import Lane


def stop(service: Service, sig: signal.Signals) -> None:
    """Send ``sig`` to the server's process and wait until it is gone."""
    pid = service.running_pid()
    assert pid is not None, f"{service.name} is not running"
    os.kill(pid, sig)
    deadline = time.monotonic() + 60
    while alive(pid):
        assert time.monotonic() < deadline, f"{service.name} did not stop on {sig.name}"
        time.sleep(0.1)


def stop_and_restart(settings: Settings, service: type[Service], sig: signal.Signals, down_s: float) -> None:
    """Send ``sig`` to ``service``'s process, wait until it is gone, leave it down ``down_s``, then
    `harmony stack up` (the same port and data)."""
    stop(service(settings), sig)
    time.sleep(down_s)
    manager.up(settings)


PRODUCED = 40_000
RATE = "5000"


def finish(lane: Lane, worker_name: str, worker: subprocess.Popen[bytes], produced: int = PRODUCED) -> None:
    """Wait until the lake holds the whole topic, stop the worker cleanly, run the checker."""
    try:
        lane.wait_landed(produced)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the worker's log:\n{lane.log(worker_name)[-4000:]}") from None
    assert worker.poll() is None, f"the worker exited:\n{lane.log(worker_name)[-3000:]}"
    worker.terminate()
    assert worker.wait(60) == 0
    no_tracebacks(lane.log(worker_name))
    checked = check_lake(lane.settings, lane.topic, lane.namespace, lane.group)
    assert checked.reports == produced
