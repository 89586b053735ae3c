"""The checker itself can fail: forged lakes (a file catalog, no server) with a row lost, a row twice, a
snapshot that skips rows or moves offsets backwards are each caught; an honest lake passes, also after
pyiceberg's expiry has cut its history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pyarrow as pa
import pytest
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.table import Table

from ingest.writer import OFFSETS_PROPERTY, TOPIC_PROPERTY
from lakehouse.schemas import Alert, AlertKind, Severity
from testkit.checker import Message, Source, check_contents, check_snapshot_chain, match

TOPIC = "t"


@pytest.fixture()
def catalog(tmp_path: Path) -> SqlCatalog:
    catalog = SqlCatalog("c", uri=f"sqlite:///{tmp_path}/c.db", warehouse=f"file://{tmp_path}")
    catalog.create_namespace("n")
    return catalog


def source(messages_per_partition: int, citizens: int = 2) -> Source:
    """Two partitions of messages with ids "p-o", each carrying ``citizens`` citizens."""
    messages = {p: [Message(o, f"{p}-{o}", citizens) for o in range(messages_per_partition)] for p in (0, 1)}
    return Source(messages, {p: messages_per_partition for p in (0, 1)}, set())


def commit(table: Table, ids: list[str], offsets: dict[int, int]) -> None:
    """An ingest-like snapshot: these rows, these offsets in its summary."""
    table.append(
        pa.table({"report_id": pa.array(ids, pa.string())}),
        snapshot_properties={
            TOPIC_PROPERTY: TOPIC,
            OFFSETS_PROPERTY: orjson.dumps({str(p): o for p, o in offsets.items()}).decode(),
        },
    )


def honest(catalog: SqlCatalog, name: str, steps: int = 4, per_step: int = 5) -> Table:
    table = catalog.create_table(f"n.{name}", pa.schema([pa.field("report_id", pa.string())]))
    for step in range(steps):
        lo, hi = step * per_step, (step + 1) * per_step
        commit(table, [f"{p}-{o}" for p in (0, 1) for o in range(lo, hi)], {0: hi, 1: hi})
    return table


def observations(catalog: SqlCatalog, ids: list[str], citizens: int = 2) -> Table:
    table = catalog.create_table("n.obs", pa.schema([pa.field("report_id", pa.string())]))
    table.append(pa.table({"report_id": pa.array([i for i in ids for _ in range(citizens)], pa.string())}))
    return table


def test_an_honest_lake_passes(catalog: SqlCatalog) -> None:
    src = source(20)
    reports = honest(catalog, "reports")
    check_snapshot_chain(src, reports, TOPIC, "reports")
    ids = [m.report_id for ms in src.messages.values() for m in ms if m.report_id]
    assert check_contents(src, reports, observations(catalog, ids)) == (40, 80)


def test_a_snapshot_that_skips_rows_is_caught(catalog: SqlCatalog) -> None:
    src = source(20)
    reports = honest(catalog, "reports", steps=2)
    commit(reports, ["0-10", "1-10"], {0: 15, 1: 15})  # offsets advanced by 5, one row each
    with pytest.raises(AssertionError, match="added 2 rows for 10"):
        check_snapshot_chain(src, reports, TOPIC, "reports")


def test_offsets_moving_backwards_are_caught(catalog: SqlCatalog) -> None:
    src = source(20)
    reports = honest(catalog, "reports", steps=3)
    commit(reports, [], {0: 10, 1: 15})
    with pytest.raises(AssertionError, match="backwards"):
        check_snapshot_chain(src, reports, TOPIC, "reports")


def test_a_row_twice_or_missing_is_caught(catalog: SqlCatalog) -> None:
    src = source(20)
    ids = [m.report_id for ms in src.messages.values() for m in ms if m.report_id]
    reports = honest(catalog, "reports")
    commit(reports, ["0-3"], {0: 20, 1: 20})
    with pytest.raises(AssertionError, match="landed twice"):
        check_contents(src, reports, observations(catalog, ids))
    short = honest(catalog, "short", steps=3)
    with pytest.raises(AssertionError, match="10 reports of the topic are not in the lake"):
        check_contents(src, short, catalog.load_table("n.obs"))


def test_after_expiry_the_oldest_kept_snapshot_is_the_baseline(catalog: SqlCatalog) -> None:
    """pyiceberg's expiry clears the parent id of the oldest kept snapshot (the checker must not take that
    for the table's first snapshot, whose offsets start from nothing), and a bad snapshot after it is
    still caught."""
    src = source(40)
    reports = honest(catalog, "reports", steps=6)
    oldest = sorted(reports.snapshots(), key=lambda s: s.sequence_number or 0)[:3]
    reports.maintenance.expire_snapshots().by_ids([s.snapshot_id for s in oldest]).commit()
    kept = sorted(reports.snapshots(), key=lambda s: s.sequence_number or 0)
    assert kept[0].parent_snapshot_id is None and (kept[0].sequence_number or 0) > 1, "pyiceberg's behaviour"
    check_snapshot_chain(src, reports, TOPIC, "reports")
    commit(reports, ["0-30"], {0: 35, 1: 30})
    with pytest.raises(AssertionError, match="added 1 rows for 5"):
        check_snapshot_chain(src, reports, TOPIC, "reports")


def _riot(zone: str, minute: int) -> Alert:
    at = datetime(2026, 9, 1, 12, tzinfo=UTC) + timedelta(minutes=minute)
    return Alert(alert_id=f"riot-{zone}-{minute}", kind=AlertKind.RIOT, severity=Severity.MEDIUM, drone_id="d",
                 zone=zone, citizens=[], event_time=at, detected_at=at, reason="r")  # fmt: skip


def _episode(eid: str, zone: str, start: int, end: int) -> dict[str, object]:
    at = datetime(2026, 9, 1, 12, tzinfo=UTC)
    return {"episode_id": eid, "zone": zone, "start": (at + timedelta(minutes=start)).isoformat(),
            "end": (at + timedelta(minutes=end)).isoformat()}  # fmt: skip


def test_an_episode_that_begins_while_its_zone_riots_belongs_to_the_open_riot() -> None:
    truth = [
        _episode("a", "Z", 0, 30),
        _episode("b", "Z", 20, 50),  # overlaps a: one riot for the rule, raised once
        _episode("c", "Z", 53, 70),  # within the window (5 min) of b's end: still the same riot
        _episode("d", "Z", 90, 100),  # a new riot: needs its own alert
        _episode("e", "Y", 20, 40),  # another zone: never matched to Z's riot
    ]
    found, stray = match(truth, [_riot("Z", 1), _riot("X", 5)])
    assert found == {"a": {"riot-Z-1"}, "b": {"riot-Z-1"}, "c": {"riot-Z-1"}, "d": set(), "e": set()}
    assert [a.alert_id for a in stray] == ["riot-X-5"]
    found, _ = match(truth, [_riot("Z", 1), _riot("Z", 25), _riot("Z", 91)])
    assert found["b"] == {"riot-Z-25"} and found["d"] == {"riot-Z-91"}, "its own alert first"
