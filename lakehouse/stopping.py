"""A worker's stop request (SIGTERM, Ctrl-C), kept across the rebuilds of its Quix application.

A worker runs its Quix app again after a transient failure (the broker away in a checkpoint): back-off,
rebuild, run. Quix handles SIGTERM and SIGINT only inside ``Application.run`` and leaves its handlers
behind, bound to the finished app: a signal landing between two runs stopped an app that was no longer
running, and the worker ran on until killed (found by the reliability soak: an orchestrator's stop was
lost). The processors' Application subclasses report the signals Quix receives here too, and a worker waits
between runs with :meth:`StopRequest.back_off`, which takes the handlers back first: a stop is never lost.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType

from lakehouse.terminal import first_line, printable


class StopRequest:
    def __init__(self) -> None:
        self._event = threading.Event()

    def install(self) -> None:
        """Handle SIGTERM and SIGINT here (between runs); ``run`` puts Quix's own handlers back."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.set()

    def set(self) -> None:
        self._event.set()

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def reset(self) -> None:
        """Forget a request (tests that send themselves a signal)."""
        self._event.clear()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True (at once) if a stop was requested."""
        return self._event.wait(seconds)

    def back_off(self, seconds: float) -> bool:
        """Between two runs of a Quix app: take the signals back from the finished app (Quix left its
        handlers bound to it), then :meth:`wait`."""
        self.install()
        return self.wait(seconds)


STOP = StopRequest()  # the process's: one worker per process


EXIT_THREAD_DIED = 70  # EX_SOFTWARE: a background thread died; a supervisor restarts the process


def background(target: Callable[[], None], name: str) -> threading.Thread:
    """A daemon thread that, should ``target`` ever raise, stops its whole process loudly: one log line
    and exit code ``EXIT_THREAD_DIED``, so a supervisor restarts it and its health check fails, instead
    of a process that looks alive while its deliveries or refreshes have silently stopped."""

    def run() -> None:
        try:
            target()
        except BaseException as exc:
            first = first_line(exc, 300)
            logging.getLogger("harmony").critical(
                "thread %s died (%s: %s); stopping the process (exit %d)",
                name, type(exc).__name__, printable(first), EXIT_THREAD_DIED,
            )  # fmt: skip
            for handler in logging.getLogger().handlers + logging.getLogger("harmony").handlers:
                handler.flush()
            os._exit(EXIT_THREAD_DIED)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread
