"""Injecting a fault into a server of the stack: a signal to its process, and the stack brought back."""

from __future__ import annotations

import os
import signal
import time

from lakehouse.settings import Settings
from stack import manager
from stack.services.base import Service
from tests.alerting.conftest import alive


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
