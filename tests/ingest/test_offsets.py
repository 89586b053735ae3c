"""The lake's Kafka offsets survive maintenance, and a table that lost them stops ingest loudly."""

from __future__ import annotations

import dataclasses
import signal
import time

import pyarrow as pa
import pytest
from pyiceberg.table import Table
from pyiceberg.table.update.snapshot import ExpireSnapshots

from ingest.writer import LostOffsetsError, committed_offsets, offsets_property, snapshot_offsets
from lakehouse.catalog import load_catalog
from lakehouse.derive import arrow_parse_schema
from lakehouse.tables import REPORTS, ensure_table
from testkit.ingest_lane import Lane, assert_exact

TABLES = ("reports", "citizen_observations")


def churn_and_expire(table: Table, commits: int = 25, retain: int = 20) -> None:
    """Commits by another writer (as compaction's are: no ingest offsets in their summary), then expiry
    down to ``retain`` snapshots: no retained snapshot records ingest's offsets any more."""
    empty = arrow_parse_schema(REPORTS.model).empty_table() if table.name()[-1] == "reports" else None
    for _ in range(commits):
        with table.transaction() as tx:
            tx.append(empty if empty is not None else pa.Table.from_pylist([], table.schema().as_arrow()))
    snapshots = sorted(table.metadata.snapshots, key=lambda s: s.timestamp_ms)
    with table.transaction() as tx:
        ExpireSnapshots(tx).by_ids([s.snapshot_id for s in snapshots[:-retain]]).commit()


def maintain_lane(lane: Lane) -> None:
    catalog = load_catalog(lane.settings)
    for name in TABLES:
        table = catalog.load_table(f"{lane.namespace}.{name}")
        churn_and_expire(table)
        table = catalog.load_table(f"{lane.namespace}.{name}")
        assert all(snapshot_offsets(s, lane.topic) is None for s in table.metadata.snapshots), (
            "the scenario must leave no snapshot that records offsets"
        )


def test_offsets_survive_expiry_and_a_new_consumer_group(lane: Lane) -> None:
    first = 20_000
    assert lane.simulate("--count", str(first), "--rate", "20000").wait(120) == 0
    worker = lane.worker("first")
    lane.wait_landed(first)
    worker.terminate()
    assert worker.wait(60) == 0
    maintain_lane(lane)

    # An operator resets the group (here: a new name): only the lake knows where to start.
    lane = dataclasses.replace(lane, group=f"{lane.group}-renamed")
    worker = lane.worker("second")
    assert lane.simulate("--count", "5000", "--rate", "20000").wait(120) == 0
    lane.wait_landed(first + 5_000)
    worker.terminate()
    worker.wait(60)
    assert_exact(lane, first + 5_000)


def test_crash_between_the_lake_commit_and_the_kafka_commit_then_maintenance(lane: Lane) -> None:
    produced = 30_000
    assert lane.simulate("--count", str(produced), "--rate", "30000").wait(120) == 0
    crashing = lane.worker(
        "crash", "--max-rows", "5000", env={"HARMONY_FAILPOINTS": "ingest.before_kafka_commit@3"}
    )
    deadline = time.monotonic() + 120
    while crashing.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
    assert crashing.returncode == -signal.SIGKILL, (
        "the failpoint kills the worker after its third lake commit"
    )
    landed = lane.lake_offsets_total()
    assert 0 < landed < produced, f"the crash left part of the topic unlanded ({landed} of {produced})"
    maintain_lane(lane)
    worker = lane.worker("after")
    lane.wait_landed(produced)
    worker.terminate()
    worker.wait(60)
    assert_exact(lane, produced)


def test_a_table_with_rows_and_no_offsets_stops_ingest(lane: Lane) -> None:
    assert lane.simulate("--count", "2000", "--rate", "20000").wait(120) == 0
    worker = lane.worker("first")
    lane.wait_landed(2_000)
    worker.terminate()
    worker.wait(60)
    catalog = load_catalog(lane.settings)
    table = catalog.load_table(f"{lane.namespace}.reports")
    churn_and_expire(table)
    table = catalog.load_table(f"{lane.namespace}.reports")
    with table.transaction() as tx:
        tx.remove_properties(offsets_property(lane.topic))
    with pytest.raises(LostOffsetsError, match="holds 2000 rows but no Kafka offsets"):
        committed_offsets(catalog.load_table(f"{lane.namespace}.reports"), lane.topic)

    again = lane.worker("again")
    assert again.wait(120) == 1, "ingest must refuse to guess where to start"
    log = lane.log("again")
    assert "no Kafka offsets" in log and "Traceback" not in log
    assert lane.counts()[0] == 2_000, "nothing landed twice"


def test_start_up_restores_the_properties_exactly_once_relies_on(lane: Lane) -> None:
    catalog = load_catalog(lane.settings)
    settings = lane.settings.model_copy(
        update={"catalog": lane.settings.catalog.model_copy(update={"raw_namespace": lane.namespace})}
    )
    table = ensure_table(catalog, REPORTS, settings)
    with table.transaction() as tx:
        tx.set_properties({"commit.retry.num-retries": "4"})  # pyiceberg's blind retry would append twice
    assert catalog.load_table(f"{lane.namespace}.reports").properties["commit.retry.num-retries"] == "4"
    ensure_table(catalog, REPORTS, settings)
    assert catalog.load_table(f"{lane.namespace}.reports").properties["commit.retry.num-retries"] == "0"
