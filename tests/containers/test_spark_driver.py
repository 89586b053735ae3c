"""The Spark driver in the project's container (`harmony analyze` in the image, host network) on a Spark
standalone master and two workers on the host: the same answers as `local[2]` on the host."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from lakehouse.catalog import load_catalog
from lakehouse.tables import purge_namespace
from stack.images import IMAGE, ROOT, podman_env
from stack.spark_cluster import SparkStandalone
from testkit.answers import answers_in, assert_same_answers
from testkit.lakes import Lake


def test_a_containerized_driver_on_the_host_cluster_gives_the_local_answers(
    image: str, seeded_lake: Lake
) -> None:
    ns = seeded_lake.settings.catalog.answers_namespace
    local, boxed = answers_in(seeded_lake, f"{ns}_hostlocal"), answers_in(seeded_lake, f"{ns}_boxed")
    try:
        local.harmony("analyze", "--master", "local[2]")
        lane_env = {k: v for k, v in boxed.env.items() if k.startswith("HARMONY_") and "__" in k}
        with SparkStandalone(seeded_lake.settings, workers=2) as spark, tempfile.TemporaryDirectory() as ivy:
            # The Iceberg jars from the host's cache (the same pins): Maven Central is reached through a
            # TLS proxy whose CA the image's Java does not trust, as a cache volume would be mounted.
            shutil.copytree(seeded_lake.settings.cache_path / "ivy", Path(ivy) / "ivy")
            subprocess.run(["chmod", "-R", "a+rwX", ivy], check=True)
            args = ["podman", "run", "--rm", "--network", "host", "--env-file", str(ROOT / ".env"),
                    "-v", f"{ivy}:/var/cache/harmony", "-e", "SPARK_LOCAL_IP=127.0.0.1",
                    # the executors run on the host: their Python is the host's, not the image's
                    "-e", f"PYSPARK_PYTHON={sys.executable}"]  # fmt: skip
            for key, value in lane_env.items():
                args += ["-e", f"{key}={value}"]
            out = subprocess.run(
                [*args, f"{IMAGE}:latest", "harmony", "analyze", "--master", spark.url],
                env=podman_env(seeded_lake.settings), capture_output=True, text=True, timeout=900, check=False,
            )  # fmt: skip
            assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
        assert_same_answers(local, boxed)
    finally:
        for lake in (local, boxed):
            purge_namespace(load_catalog(lake.settings), lake.settings.catalog.answers_namespace)
