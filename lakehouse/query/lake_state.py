"""The lake's state as the catalog records it: per table, its rows, snapshots, last commit and offsets.

Read from table metadata only (no data file is opened), so it is cheap enough for a page that refreshes.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
import pyarrow.compute as pc
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError

from lakehouse.settings import Settings
from lakehouse.tables import (
    KAFKA_OFFSETS_PROPERTY_PREFIX,
    RAW_TABLES,
    SOURCE_SNAPSHOTS_PROPERTY,
    Answer,
)


@dataclass(frozen=True)
class TableState:
    identifier: str
    rows: int
    data_files: int
    snapshots: int
    snapshot_id: int | None
    committed_at: datetime | None
    # topic -> partition -> next offset landed (raw tables written by ingest)
    offsets: dict[str, dict[int, int]] = field(default_factory=dict)
    # the raw tables' snapshot ids an answer was computed from (answer tables)
    source_snapshots: dict[str, int | None] = field(default_factory=dict)

    def age_s(self, now: datetime | None = None) -> float | None:
        if self.committed_at is None:
            return None
        return ((now or datetime.now(UTC)) - self.committed_at).total_seconds()


def table_state(catalog: Catalog, identifier: str) -> TableState | None:
    """The state of one table, or None when it does not exist (yet)."""
    try:
        table = catalog.load_table(identifier)
    except NoSuchTableError:
        return None
    snapshot = table.current_snapshot()
    summary = snapshot.summary.additional_properties if snapshot is not None and snapshot.summary else {}
    offsets = {
        key.removeprefix(KAFKA_OFFSETS_PROPERTY_PREFIX): {int(p): int(o) for p, o in orjson.loads(v).items()}
        for key, v in table.properties.items()
        if key.startswith(KAFKA_OFFSETS_PROPERTY_PREFIX)
    }
    sources = summary.get(SOURCE_SNAPSHOTS_PROPERTY)
    return TableState(
        identifier=identifier,
        rows=int(summary.get("total-records", 0)),
        data_files=int(summary.get("total-data-files", 0)),
        snapshots=len(table.metadata.snapshots),
        snapshot_id=snapshot.snapshot_id if snapshot is not None else None,
        committed_at=(
            datetime.fromtimestamp(snapshot.timestamp_ms / 1000, UTC) if snapshot is not None else None
        ),
        offsets=offsets,
        source_snapshots=(
            {k: int(v) if v is not None else None for k, v in orjson.loads(sources).items()}
            if sources
            else {}
        ),
    )


def lake_identifiers(settings: Settings) -> list[str]:
    """Every table of the lake: the raw tables, then the answers."""
    return [spec.identifier(settings) for spec in RAW_TABLES] + [a.identifier(settings) for a in Answer]


def lake_state(catalog: Catalog, settings: Settings) -> list[TableState]:
    """Every existing table of the lake, in :func:`lake_identifiers` order (read side by side: each is a
    catalog query and a metadata file on S3)."""
    identifiers = lake_identifiers(settings)
    with ThreadPoolExecutor(max_workers=len(identifiers)) as pool:
        states = list(pool.map(lambda i: table_state(catalog, i), identifiers))
    return [s for s in states if s is not None]


def newest_event(catalog: Catalog, identifier: str, column: str = "event_time") -> datetime | None:
    """The newest ``column`` value in the table, from its data files' column bounds (manifests only, no
    data file read; Iceberg keeps timestamp bounds exact); None when the table does not exist or holds
    no rows yet."""
    try:
        table = catalog.load_table(identifier)
    except NoSuchTableError:
        return None
    if table.current_snapshot() is None:
        return None
    files = table.inspect.data_files()
    if files.num_rows == 0:
        return None
    bounds = pc.struct_field(files.column("readable_metrics"), [column, "upper_bound"])
    newest: datetime | None = pc.max(bounds).as_py()
    if newest is None:
        return None
    return newest if newest.tzinfo is not None else newest.replace(tzinfo=UTC)
