"""A Spark standalone master and its workers, as servers of the stack, from the pyspark installation.

The classes Spark's ``sbin/start-master.sh`` and ``start-worker.sh`` run, launched through pyspark's own
``bin/spark-class`` in the foreground, so no Spark distribution is downloaded: the pip package is the
installation. Jobs reach the master with ``--master spark://host:port`` (`harmony analyze` does by itself
when the stack runs workers); the driver ships the Iceberg jars to the executors. Daemons get a small
heap; each worker offers ``worker_cores`` and ``worker_memory``.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from lakehouse.settings import Settings
from stack.services.base import Service


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


class _SparkDaemon(Service):
    """What the master and a worker share: pyspark's launcher, its environment, no install."""

    @property
    def host(self) -> str:
        return self.settings.spark.host

    def install(self) -> None:
        """pyspark is a dependency of the project: nothing to fetch."""

    def env(self) -> dict[str, str]:
        return {
            **super().env(),
            "SPARK_HOME": str(spark_home()),
            "SPARK_DAEMON_MEMORY": "256m",
            "SPARK_LOCAL_IP": self.settings.spark.host,  # executors bind where the master and workers do
        }

    def _state(self, port: int) -> dict[str, object]:
        doc: dict[str, object] = httpx.get(f"http://{self.host}:{port}/json/", timeout=2).json()
        return doc


class SparkMaster(_SparkDaemon):
    name = "spark-master"

    @property
    def ports(self) -> tuple[int, ...]:
        sp = self.settings.spark
        return (sp.master_port, sp.master_webui_port)

    @property
    def properties(self) -> Path:
        return self.home / "spark-defaults.conf"

    def prepare(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.properties.touch()  # its path on the command line names this stack's folder

    def command(self) -> list[str]:
        sp = self.settings.spark
        return [
            str(spark_home() / "bin" / "spark-class"), "org.apache.spark.deploy.master.Master",
            "--host", sp.host, "--port", str(sp.master_port), "--webui-port", str(sp.master_webui_port),
            "--properties-file", str(self.properties),
        ]  # fmt: skip

    def check_health(self) -> None:
        if self._state(self.settings.spark.master_webui_port).get("status") != "ALIVE":
            raise RuntimeError("the master is not ALIVE")

    def alive_workers(self) -> int:
        return int(str(self._state(self.settings.spark.master_webui_port).get("aliveworkers", 0)))

    @property
    def address(self) -> str:
        return self.settings.spark.master_url


def spark_workers(settings: Settings, count: int | None = None) -> list[SparkWorker]:
    wanted = settings.spark.workers if count is None else count
    return [SparkWorker(settings, n) for n in range(1, wanted + 1)]


class SparkWorker(_SparkDaemon):
    name = "spark-worker"

    def __init__(self, settings: Settings, worker: int) -> None:
        self.worker = worker
        self.name = f"spark-worker-{worker}"
        super().__init__(settings)

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.settings.spark.worker_webui_port + self.worker - 1,)

    def prepare(self) -> None:
        (self.home / "work").mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        sp = self.settings.spark
        return [
            str(spark_home() / "bin" / "spark-class"), "org.apache.spark.deploy.worker.Worker",
            "--host", sp.host, "--cores", str(sp.worker_cores), "--memory", sp.worker_memory,
            "--webui-port", str(self.ports[0]), "--work-dir", str(self.home / "work"), sp.master_url,
        ]  # fmt: skip

    def check_health(self) -> None:
        """Healthy once registered with the master (its own page then names the master)."""
        master = self._state(self.ports[0]).get("masterurl")
        if master != self.settings.spark.master_url:
            raise RuntimeError(f"not registered with {self.settings.spark.master_url} ({master})")
