"""The exactly-once Iceberg writer: Kafka offsets live in the same atomic commit as the rows.

One writer serves every table fed from one topic. Each snapshot it commits carries, in its summary, the
next Kafka offset of every partition of that topic that has ever landed in the table (the whole map, so
the newest snapshot alone is enough). The table, not the consumer group, is the source of truth:

* on assignment the consumer seeks to the smallest committed offset over the tables (``start_offsets``);
* at commit time each table keeps only rows at or beyond its own committed offset, so a replay after a
  crash between two commits lands nothing twice;
* the commit is optimistic: if any other writer committed in between, the catalog refuses ours
  (``CommitFailedException``) and we start over from the refreshed table, re-reading its offsets, so
  a paused worker that lost its partitions (a zombie) can never land rows another worker already landed.
  pyiceberg's own retry is off for these tables, since it would re-apply the append without that check.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import orjson
import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot
from pyiceberg.table.update.snapshot import ExpireSnapshots

from lakehouse.derive import arrow_parse_schema
from lakehouse.tables import TableSpec

logger = logging.getLogger("harmony.ingest.writer")

OFFSETS_PROPERTY = "harmony.kafka.offsets"
TOPIC_PROPERTY = "harmony.kafka.topic"
PARTITION_COLUMN = "_kafka_partition"
OFFSET_COLUMN = "_kafka_offset"


class StaleBatchError(RuntimeError):
    """Raised when a commit keeps losing to other writers beyond the retry budget."""


@dataclass
class TableBatch:
    """Rows for one table; each row carries the Kafka partition and offset it came from."""

    rows: pa.Table  # includes PARTITION_COLUMN and OFFSET_COLUMN


@dataclass
class CommitResult:
    table: str
    rows: int
    skipped_rows: int
    files: int
    bytes: int
    attempts: int
    duration_ms: float
    offsets: dict[int, int]
    snapshot_id: int | None
    write_ms: float = 0.0  # writing the data files
    commit_ms: float = 0.0  # the metadata commit alone: manifests, metadata file, catalog swap


@dataclass
class WriterConfig:
    max_attempts: int = 20
    retain_snapshots: int = 50
    expire_batch: int = 25  # expire in batches: one metadata rewrite every `expire_batch` commits
    backoff_ms: tuple[int, int] = (20, 1000)


def committed_offsets(table: Table, topic: str) -> dict[int, int]:
    """The next offset per partition recorded by the newest snapshot (in lineage) that recorded any."""
    snapshot: Snapshot | None = table.current_snapshot()
    while snapshot is not None:
        props = snapshot.summary.additional_properties if snapshot.summary else {}
        if props.get(TOPIC_PROPERTY) == topic and OFFSETS_PROPERTY in props:
            return {int(p): int(o) for p, o in orjson.loads(props[OFFSETS_PROPERTY]).items()}
        snapshot = table.snapshot_by_id(snapshot.parent_snapshot_id) if snapshot.parent_snapshot_id else None
    return {}


@dataclass
class ExactlyOnceWriter:
    """Appends rows from one Kafka topic to several tables, each exactly once."""

    catalog: Catalog
    topic: str
    tables: dict[TableSpec, str]  # spec -> identifier
    config: WriterConfig = field(default_factory=WriterConfig)
    on_commit: Callable[[CommitResult], None] | None = None
    _tables: dict[str, Table] = field(default_factory=dict, repr=False)

    def start_offsets(self, partitions: Iterable[int]) -> dict[int, int]:
        """Where a consumer of ``partitions`` must start so that no table misses a row."""
        per_table = [committed_offsets(self.catalog.load_table(i), self.topic) for i in self.tables.values()]
        out = {}
        for p in partitions:
            known = [offsets.get(p) for offsets in per_table]
            # A table that never saw partition p: leave p to the group's position (earliest for a new group).
            if known and all(o is not None for o in known):
                out[p] = min(o for o in known if o is not None)
        return out

    def commit(
        self,
        batches: dict[TableSpec, TableBatch],
        next_offsets: dict[int, int],
        owned: Callable[[int], bool] = lambda _p: True,
    ) -> list[CommitResult]:
        """Commit every table's rows with ``next_offsets`` (partition → next offset to consume)."""
        return [self._commit_table(spec, batch, next_offsets, owned) for spec, batch in batches.items()]

    def _commit_table(
        self, spec: TableSpec, batch: TableBatch, next_offsets: dict[int, int], owned: Callable[[int], bool]
    ) -> CommitResult:
        ident = self.tables[spec]
        started = time.perf_counter()
        # The table as this writer last committed it: if anyone committed since, the catalog refuses our
        # commit and we reload (step 5), so a cached table costs nothing in safety and saves a read.
        table = self._tables.get(ident) or self.catalog.load_table(ident)
        for attempt in range(1, self.config.max_attempts + 1):
            # Step 1. Re-read the offsets this table has committed, from its newest snapshot.
            landed = committed_offsets(table, self.topic)

            # Step 2. Fence: only partitions this worker still owns, only rows not landed yet.
            mine = {p: o for p, o in next_offsets.items() if owned(p)}
            rows = _unlanded(batch.rows, landed, mine)
            advanced = {p: o for p, o in mine.items() if o > landed.get(p, -1)}
            if rows.num_rows == 0 and not advanced:
                return self._result(ident, None, batch, rows, attempt, started, landed)

            # Step 3. The new offset map: everything landed so far, advanced by this batch.
            offsets = {**landed, **advanced}
            props = {
                TOPIC_PROPERTY: self.topic,
                OFFSETS_PROPERTY: orjson.dumps({str(p): o for p, o in sorted(offsets.items())}).decode(),
            }

            # Step 4. One atomic commit: the rows, their offsets in the snapshot summary, and the
            # expiry of old snapshots (so commit time does not grow with the table's history).
            try:
                tx = table.transaction()
                write_started = time.perf_counter()
                tx.append(_conform(rows, spec), snapshot_properties=props)  # writes the data files
                expired = _expirable(table, self.config)
                if expired:
                    ExpireSnapshots(tx).by_ids(expired).commit()
                commit_started = time.perf_counter()
                tx.commit_transaction()  # manifests, manifest list, metadata, then the catalog swap
                commit_ms = (time.perf_counter() - commit_started) * 1000
                write_ms = (commit_started - write_started) * 1000
            except CommitFailedException:
                self._tables.pop(ident, None)
                # Step 5. Someone else committed first: back off, refresh and start over from step 1.
                low, high = self.config.backoff_ms
                time.sleep(min(high, low * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0) / 1000)
                table = self.catalog.load_table(ident)
                continue
            # Step 6. The commit landed: report it (the caller commits Kafka offsets only after this).
            self._tables[ident] = table
            result = self._result(ident, table.current_snapshot(), batch, rows, attempt, started, offsets)
            result.write_ms, result.commit_ms = write_ms, commit_ms
            if self.on_commit is not None:
                self.on_commit(result)
            return result
        raise StaleBatchError(f"{ident}: gave up after {self.config.max_attempts} conflicting commits")

    @staticmethod
    def _result(
        ident: str,
        snapshot: Snapshot | None,
        batch: TableBatch,
        rows: pa.Table,
        attempts: int,
        started: float,
        offsets: dict[int, int],
    ) -> CommitResult:
        props = snapshot.summary.additional_properties if snapshot is not None and snapshot.summary else {}
        return CommitResult(
            table=ident,
            rows=rows.num_rows if snapshot is not None else 0,
            skipped_rows=batch.rows.num_rows - (rows.num_rows if snapshot is not None else 0),
            files=int(props.get("added-data-files", 0)),
            bytes=int(props.get("added-files-size", 0)),
            attempts=attempts,
            duration_ms=(time.perf_counter() - started) * 1000,
            offsets=offsets,
            snapshot_id=snapshot.snapshot_id if snapshot is not None else None,
        )


def _conform(rows: pa.Table, spec: TableSpec) -> pa.Table:
    """The table's columns, in its order and with its nullability (Arrow builders mark all nullable)."""
    schema = arrow_parse_schema(spec.model)
    return rows.select(schema.names).cast(schema)


def _unlanded(rows: pa.Table, landed: dict[int, int], owned_next: dict[int, int]) -> pa.Table:
    """Rows from owned partitions whose offset is at or beyond the table's committed offset."""
    if rows.num_rows == 0:
        return rows
    parts = rows.column(PARTITION_COLUMN)
    offsets = rows.column(OFFSET_COLUMN)
    keep = None
    for p in pc.unique(parts).to_pylist():
        in_p = pc.equal(parts, p)
        if p not in owned_next:
            continue
        cond = pc.and_(in_p, pc.greater_equal(offsets, landed.get(p, 0)))
        keep = cond if keep is None else pc.or_(keep, cond)
    return rows.filter(keep) if keep is not None else rows.slice(0, 0)


def _expirable(table: Table, config: WriterConfig) -> list[int]:
    """Snapshots older than the newest ``retain_snapshots``, once there are ``expire_batch`` of them."""
    snapshots = sorted(table.metadata.snapshots, key=lambda s: s.timestamp_ms)
    excess = len(snapshots) + 1 - config.retain_snapshots  # +1: the snapshot being committed
    if excess < config.expire_batch:
        return []
    current = table.current_snapshot()
    keep = {current.snapshot_id} if current is not None else set()
    return [s.snapshot_id for s in snapshots[:excess] if s.snapshot_id not in keep]
