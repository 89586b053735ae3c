"""`harmony lake maintain`: fewer files, no row lost, and ingest's exactly-once offsets survive it. Each
test on a small lake of its own (maintenance rewrites and expires: the seeded lake is only read)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from ingest.writer import committed_offsets
from lakehouse.catalog import load_catalog
from lakehouse.query import trino_sql
from lakehouse.settings import Settings
from lakehouse.tables import CITIZEN_OBSERVATIONS, REPORTS
from testkit.lakes import Lake, private_lake
from testkit.seeded import SMALL, seed


@pytest.fixture()
def small_lake(stack: Settings, tmp_path: Path) -> Iterator[Lake]:
    with private_lake(stack, "maintain", tmp_path) as lake:
        seed(lake, SMALL, max_rows=2_000, analyse=False)
        yield lake


def state(lake: Lake) -> dict[str, tuple[int, int, dict[int, int]]]:
    """Per raw table: data files, rows, committed Kafka offsets."""
    catalog = load_catalog(lake.settings)
    out = {}
    for spec in (REPORTS, CITIZEN_OBSERVATIONS):
        table = catalog.load_table(spec.identifier(lake.settings))
        files = table.inspect.files()
        out[spec.name] = (
            files.num_rows,
            sum(files.column("record_count").to_pylist()),
            committed_offsets(table, lake.settings.kafka.reports_topic),
        )
    return out


def produced(lake: Lake) -> int:
    """Every report on the topic: the sum of the partitions' end offsets."""
    topic = lake.settings.kafka.reports_topic
    consumer = Consumer(lake.settings.kafka.client({"group.id": "ends"}))
    try:
        return sum(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(4))
    finally:
        consumer.close()


def test_maintenance_compacts_and_loses_nothing(small_lake: Lake) -> None:
    before = state(small_lake)
    small_lake.harmony("lake", "maintain", "--master", "local[2]")
    after = state(small_lake)
    for name, (files, rows, offsets) in before.items():
        assert after[name][0] < files, f"{name}: {files} files before, {after[name][0]} after"
        assert after[name][1] == rows
        assert after[name][2] == offsets, "the ingest offsets are still found after compaction and expiry"


def test_maintenance_while_ingest_writes(small_lake: Lake) -> None:
    lake = small_lake
    worker = lake.popen("ingest", "--commit-interval", "1")
    sim = lake.popen(
        "simulate",
        "--rate",
        "3000",
        "--duration",
        "25",
        "--drones",
        "16",
        "--ground-truth",
        str(lake.tmp / "live.jsonl"),
    )
    time.sleep(5)
    lake.harmony("lake", "maintain", "--master", "local[2]")
    assert sim.wait(120) == 0
    deadline = time.monotonic() + 120
    target = produced(lake)
    while time.monotonic() < deadline and sum(state(lake)["reports"][2].values()) < target:
        time.sleep(1)
    worker.terminate()
    assert worker.wait(60) == 0
    ns = lake.settings.catalog.raw_namespace
    reports, distinct, citizens = trino_sql.query(
        f"SELECT count(*), count(DISTINCT report_id), sum(cardinality(citizens)) FROM {ns}.reports",
        lake.settings,
    )[0]
    observations = trino_sql.query(f"SELECT count(*) FROM {ns}.citizen_observations", lake.settings)[0][0]
    assert reports == distinct == target
    assert observations == citizens
