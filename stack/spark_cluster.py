"""A Spark standalone cluster (a master and N workers) started from the pyspark installation.

The same classes Spark's ``sbin/start-master.sh`` and ``start-worker.sh`` run, launched through pyspark's
own ``bin/spark-class`` in the foreground, so no Spark distribution is downloaded: the pip package is the
installation. Jobs reach it with ``--master spark://host:port``; the driver ships the Iceberg jars to the
executors itself. Daemons get a small heap; each worker offers ``worker_cores`` and ``worker_memory``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType

import httpx

from lakehouse.private_files import open_private, private_dir
from lakehouse.settings import Settings


class SparkClusterError(RuntimeError):
    pass


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


class SparkStandalone:
    """``with SparkStandalone(settings, workers=2) as cluster: ... cluster.url``"""

    def __init__(self, settings: Settings, workers: int = 2, timeout_s: float = 120) -> None:
        self.settings = settings
        self.workers = workers
        self.timeout_s = timeout_s
        self.home = settings.state_path / "spark"
        self.procs: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        return self.settings.spark.master_url

    def _spawn(self, name: str, *args: str) -> None:
        log_dir = self.settings.state_path / "logs"
        private_dir(log_dir)
        env = {
            **os.environ,
            "SPARK_HOME": str(spark_home()),
            "SPARK_DAEMON_MEMORY": "256m",
            "SPARK_LOCAL_IP": self.settings.spark.host,  # executors bind where the master and workers do
        }
        with open_private(log_dir / f"spark-{name}.log", append=True) as log:
            self.procs.append(
                subprocess.Popen(
                    [str(spark_home() / "bin" / "spark-class"), *args],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )

    def alive_workers(self) -> int:
        sp = self.settings.spark
        doc = httpx.get(f"http://{sp.host}:{sp.master_webui_port}/json/", timeout=2).json()
        return int(doc.get("aliveworkers", 0))

    def start(self) -> None:
        sp = self.settings.spark
        self._spawn(
            "master",
            "org.apache.spark.deploy.master.Master",
            "--host", sp.host, "--port", str(sp.master_port), "--webui-port", str(sp.master_webui_port),
        )  # fmt: skip
        for i in range(self.workers):
            work = self.home / f"worker-{i}"
            work.mkdir(parents=True, exist_ok=True)
            self._spawn(
                f"worker-{i}",
                "org.apache.spark.deploy.worker.Worker",
                "--host", sp.host, "--cores", str(sp.worker_cores), "--memory", sp.worker_memory,
                "--webui-port", str(sp.worker_webui_port + i), "--work-dir", str(work), self.url,
            )  # fmt: skip
        deadline = time.monotonic() + self.timeout_s
        last = "no answer"
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.procs):
                logs = self.settings.state_path / "logs"
                raise SparkClusterError(f"a Spark daemon exited at start (see {logs}/spark-*.log)")
            try:
                alive = self.alive_workers()
                if alive >= self.workers:
                    return
                last = f"{alive} of {self.workers} workers registered"
            except (httpx.HTTPError, ValueError) as exc:
                last = str(exc)
            time.sleep(0.5)
        raise SparkClusterError(f"Spark standalone not ready in {self.timeout_s:.0f}s ({last})")

    def stop(self) -> None:
        for proc in reversed(self.procs):  # workers first, then the master
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        self.procs.clear()

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
