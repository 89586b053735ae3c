"""Rows as ingest's writer receives them from a partition (citizen observations with their Kafka
partition and offset), so a test names only the offsets it lands."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa

from ingest.writer import OFFSET_COLUMN, PARTITION_COLUMN


def rows(partition: int, first: int, last: int) -> pa.Table:
    n = last - first
    return pa.table(
        {
            "report_id": [f"r{partition}-{o}" for o in range(first, last)],
            "drone_id": ["d"] * n,
            "event_time": pa.array([datetime(2026, 9, 1, tzinfo=UTC)] * n, pa.timestamp("us", "UTC")),
            "zone": ["z"] * n,
            "citizen_id": ["c"] * n,
            "name": ["n"] * n,
            "harmony_score": [50.0] * n,
            PARTITION_COLUMN: pa.array([partition] * n, pa.int32()),
            OFFSET_COLUMN: pa.array(range(first, last), pa.int64()),
        }
    )
