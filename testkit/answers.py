"""The answer tables of a lake read back, compared row by row by their keys (floats to the last bits
Spark's order of addition leaves), and a lake whose answers go to another namespace: Spark's tests on
one machine, on a cluster and in a container compare their answers with these."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from pyiceberg.table import Table
from pyiceberg.table.snapshots import Summary

from lakehouse.catalog import load_catalog
from lakehouse.tables import Answer
from testkit.lakes import Lake

COLUMNS = {
    Answer.BY_DAY: ["day", "citizens_seen", "low_score_citizens", "riot_alerts"],
    Answer.BY_WEEKDAY: ["day_of_week", "day_name", "is_weekend", "days", "citizens_seen", "low_score_citizens",
                        "riot_alerts", "low_score_citizens_per_day", "riot_alerts_per_day"],
    Answer.BY_HOUR: ["hour", "citizens_seen", "low_score_citizens", "low_score_share", "riot_alerts", "unrest_rank",
                     "is_peak"],
    Answer.BY_ZONE: ["zone", "citizens_seen", "low_score_citizens", "low_score_share", "avg_harmony_score",
                     "harmony_score_sum", "riot_alerts", "centre_lat", "centre_lon", "risk_rank"],
    Answer.WORDS: ["word", "citizens_hearing", "low_citizens_hearing", "lift", "lift_rank"],
    Answer.BY_ZONE_HOUR: ["day", "zone", "hour", "citizens_seen", "low_score_citizens", "riot_alerts"],
}  # fmt: skip
KEYS = {  # the columns that identify a row of each answer
    Answer.BY_DAY: ("day",),
    Answer.BY_WEEKDAY: ("day_of_week",),
    Answer.BY_HOUR: ("hour",),
    Answer.BY_ZONE: ("zone",),
    Answer.WORDS: ("word",),
    Answer.BY_ZONE_HOUR: ("day", "zone", "hour"),
}


def answer_rows(lake: Lake, which: Answer) -> tuple[list[str], list[tuple[Any, ...]]]:
    table = load_catalog(lake.settings).load_table(which.identifier(lake.settings))
    arrow = table.scan().to_arrow()
    return arrow.column_names, [tuple(r.values()) for r in arrow.to_pylist()]


def summary_of(table: Table) -> Summary:
    """The current snapshot's summary (an answer table always has one)."""
    snapshot = table.current_snapshot()
    assert snapshot is not None and snapshot.summary is not None
    return snapshot.summary


def same(a: object, b: object) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)  # type: ignore[arg-type]
    return a == b


def assert_same_answers(want_lake: Lake, got_lake: Lake) -> None:
    """Every answer table of ``got_lake`` has the rows of ``want_lake``'s, matched by their key."""
    for which in Answer:
        _, want = answer_rows(want_lake, which)
        _, got = answer_rows(got_lake, which)
        keys = [COLUMNS[which].index(k) for k in KEYS[which]]
        want_by = {tuple(r[k] for k in keys): r for r in want}
        got_by = {tuple(r[k] for k in keys): r for r in got}
        assert want_by and set(got_by) == set(want_by), which
        for key, row in got_by.items():
            assert all(same(a, b) for a, b in zip(row, want_by[key], strict=True)), (which, key, row)


def answers_in(lake: Lake, namespace: str) -> Lake:
    """The lake, with the answers written to (and read from) ``namespace``."""
    catalog = lake.settings.catalog.model_copy(update={"answers_namespace": namespace})
    return dataclasses.replace(
        lake,
        settings=lake.settings.model_copy(update={"catalog": catalog}),
        # SPARK_LOCAL_IP: the driver tells the executors a loopback address they can reach.
        env={**lake.env, "HARMONY_CATALOG__ANSWERS_NAMESPACE": namespace, "SPARK_LOCAL_IP": "127.0.0.1"},
    )
