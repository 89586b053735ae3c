"""Injecting a fault into a server of the stack: a signal to its process, and the stack brought back."""

from __future__ import annotations

import os
import signal
import time

from lakehouse.settings import Settings
from stack import manager
from stack.services.base import Service
from tests.alerting.conftest import alive


def stop_and_restart(settings: Settings, service: type[Service], sig: signal.Signals, down_s: float) -> None:
    """Send ``sig`` to ``service``'s process, wait until it is gone, leave it down ``down_s``, then
    `harmony stack up` (the same port and data)."""
    pid = service(settings).running_pid()
    assert pid is not None, f"{service.__name__} is not running"
    os.kill(pid, sig)
    deadline = time.monotonic() + 60
    while alive(pid):
        assert time.monotonic() < deadline, f"{service.__name__} did not stop on {sig.name}"
        time.sleep(0.1)
    time.sleep(down_s)
    manager.up(settings)
