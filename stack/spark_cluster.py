"""A Spark standalone cluster (a master and N workers) for the length of a ``with`` block.

`harmony stack spark` and the tests run one beside any stack; the cluster topology's `harmony stack up`
runs the same servers (:mod:`stack.services.spark`) for good.
"""

from __future__ import annotations

import time
from types import TracebackType

from lakehouse.settings import Settings
from stack.services.base import Service, ServiceError
from stack.services.spark import SparkMaster, spark_workers


class SparkClusterError(RuntimeError):
    pass


class SparkStandalone:
    """``with SparkStandalone(settings, workers=2) as cluster: ... cluster.url``"""

    def __init__(self, settings: Settings, workers: int = 2, timeout_s: float = 120) -> None:
        self.settings = settings
        self.timeout_s = timeout_s
        self.master = SparkMaster(settings)
        self.workers = spark_workers(settings, workers)
        self.started: list[Service] = []

    @property
    def url(self) -> str:
        return self.settings.spark.master_url

    def alive_workers(self) -> int:
        return self.master.alive_workers()

    def start(self) -> None:
        t0 = time.monotonic()
        try:
            for daemon in [self.master, *self.workers]:
                daemon.prepare()
                daemon.start()
                self.started.append(daemon)
            for daemon in [self.master, *self.workers]:
                daemon.wait_healthy(max(1.0, self.timeout_s - (time.monotonic() - t0)))
        except ServiceError as exc:
            raise SparkClusterError(str(exc)) from exc

    def stop(self) -> None:
        for daemon in reversed(self.started):  # workers first, then the master
            daemon.stop()
        self.started.clear()

    def __enter__(self) -> SparkStandalone:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
