"""`harmony analyze --master spark://…` on a real Spark standalone cluster (a master and two workers from
the pyspark installation, started and stopped here) gives the same answers as `local[2]`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lakehouse.catalog import load_catalog
from lakehouse.tables import purge_namespace
from stack.spark_cluster import SparkStandalone
from testkit.answers import answers_in, assert_same_answers
from testkit.lakes import Lake


@pytest.fixture()
def two_runs(seeded_lake: Lake) -> Iterator[tuple[Lake, Lake, str]]:
    ns = seeded_lake.settings.catalog.answers_namespace
    local, cluster = answers_in(seeded_lake, f"{ns}_local"), answers_in(seeded_lake, f"{ns}_cluster")
    local.harmony("analyze", "--master", "local[2]")
    with SparkStandalone(seeded_lake.settings, workers=2) as spark:
        out = cluster.harmony("analyze", "--master", spark.url)
        yield local, cluster, out.stdout + out.stderr
    for lake in (local, cluster):
        purge_namespace(load_catalog(lake.settings), lake.settings.catalog.answers_namespace)


def test_answers_on_a_standalone_cluster_equal_local(two_runs: tuple[Lake, Lake, str]) -> None:
    local, cluster, output = two_runs
    assert "spark://" in output, output[-2000:]
    assert_same_answers(local, cluster)
