"""The exactly-once Iceberg writer: Kafka offsets live in the same atomic commit as the rows.

One writer serves every table fed from one topic. Each commit it makes carries the next Kafka offset of
every partition of that topic that has ever landed in the table (the whole map) twice, in one atomic
metadata swap: in a table property (``harmony.kafka.offsets.<topic>``), which no snapshot expiry or
compaction can remove, and in the new snapshot's summary, which records the history. The table, not the
consumer group, is the source of truth:

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
from uuid import UUID, uuid4

import numpy as np
import orjson
import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.manifest import DataFile
from pyiceberg.table import Table
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.snapshots import Snapshot
from pyiceberg.table.update.snapshot import ExpireSnapshots

from ingest.failpoints import armed, failpoint
from lakehouse.adapters.iceberg import MemoTransaction, after_metadata_write, write_data_files
from lakehouse.derive import arrow_parse_schema
from lakehouse.tables import KAFKA_OFFSETS_PROPERTY_PREFIX, TableSpec

logger = logging.getLogger("harmony.ingest.writer")

OFFSETS_PROPERTY = "harmony.kafka.offsets"  # snapshot summary: the offsets as of this snapshot
TOPIC_PROPERTY = "harmony.kafka.topic"  # snapshot summary: the topic those offsets belong to
PARTITION_COLUMN = "_kafka_partition"
OFFSET_COLUMN = "_kafka_offset"


class StaleBatchError(RuntimeError):
    """Raised when a commit keeps losing to other writers beyond the retry budget."""


class LostOffsetsError(RuntimeError):
    """A table holds rows but no readable Kafka offsets: resuming would have to guess, so we stop."""


@dataclass
class TableBatch:
    """Rows for one table; each row carries the Kafka partition and offset it came from.

    ``prewritten`` holds segments whose data files were already written while the batch was being
    consumed (``ExactlyOnceWriter.write_files``): their rows, and the files holding exactly those rows.
    A commit uses a segment's files only if every one of its rows passes the fence (step 2); otherwise the
    segment's rows are filtered and written again, so pre-writing never changes what lands.
    """

    rows: pa.Table  # includes PARTITION_COLUMN and OFFSET_COLUMN
    prewritten: list[tuple[pa.Table, list[DataFile]]] = field(default_factory=list)

    @property
    def num_rows(self) -> int:
        return int(self.rows.num_rows) + sum(int(rows.num_rows) for rows, _ in self.prewritten)


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
    commit_ms: float = 0.0  # the whole commit: manifests, manifest list, metadata file, catalog swap


@dataclass
class WriterConfig:
    max_attempts: int = 20
    retain_snapshots: int = 50
    expire_batch: int = 25  # expire in batches: one metadata rewrite every `expire_batch` commits
    backoff_ms: tuple[int, int] = (20, 1000)


def offsets_property(topic: str) -> str:
    """The table property holding the next offset per partition of ``topic`` landed in the table."""
    return f"{KAFKA_OFFSETS_PROPERTY_PREFIX}{topic}"


def _parse_offsets(text: str) -> dict[int, int]:
    return {int(p): int(o) for p, o in orjson.loads(text).items()}


def snapshot_offsets(snapshot: Snapshot, topic: str) -> dict[int, int] | None:
    """The offsets a snapshot recorded for ``topic``, or None when it recorded none (not ours, or Spark's)."""
    props = snapshot.summary.additional_properties if snapshot.summary else {}
    if props.get(TOPIC_PROPERTY) == topic and OFFSETS_PROPERTY in props:
        return _parse_offsets(props[OFFSETS_PROPERTY])
    return None


def committed_offsets(table: Table, topic: str) -> dict[int, int]:
    """The next offset per partition of ``topic`` that the table has landed; ``{}`` for a table with no rows.

    Read from the table property. Tables written before the property existed fall back to the newest
    snapshot in lineage that recorded offsets. A table with rows and no offsets at all raises
    :class:`LostOffsetsError`: starting from the consumer group's position (or the topic's start) would
    land rows twice, so a person has to decide.
    """
    prop = table.properties.get(offsets_property(topic))
    if prop is not None:
        return _parse_offsets(prop)
    snapshot: Snapshot | None = table.current_snapshot()
    while snapshot is not None:
        found = snapshot_offsets(snapshot, topic)
        if found is not None:
            return found
        snapshot = table.snapshot_by_id(snapshot.parent_snapshot_id) if snapshot.parent_snapshot_id else None
    current = table.current_snapshot()
    rows = (
        int(current.summary.additional_properties.get("total-records", 0))
        if current and current.summary
        else 0
    )
    if rows:
        raise LostOffsetsError(
            f"{'.'.join(table.name())} holds {rows} rows but no Kafka offsets for topic {topic!r} (neither "
            f"the table property {offsets_property(topic)!r} nor any retained snapshot records them); "
            "resuming would land rows twice or skip some. Restore the property (a JSON map of partition "
            "to next offset) or ingest into a new table."
        )
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

    def __post_init__(self) -> None:
        if armed("ingest.after_metadata_file"):
            _fail_after_metadata_file(self.catalog)

    def write_files(self, spec: TableSpec, rows: pa.Table) -> list[DataFile]:
        """Write ``rows`` as data files of ``spec``'s table ahead of the commit that will add them
        (safe from any thread; the commit still fences them, see ``TableBatch``)."""
        ident = self.tables[spec]
        table = self._tables.get(ident) or self.catalog.load_table(ident)
        return _write(table, table.metadata, rows, spec, uuid4())

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
        """Commit every table's rows with ``next_offsets`` (partition → next offset to consume).

        The tables are independent (each has its own offsets and its own catalog swap). They are committed
        one after the other: a commit is mostly Python (Avro manifests, metadata JSON), so two side by
        side only fought over the GIL and each took twice as long.
        """
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
            # Step 1. Re-read the offsets this table has committed (its offsets property).
            landed = committed_offsets(table, self.topic)

            # Step 2. Fence: only partitions this worker still owns, only rows not landed yet.
            fenced = fence(batch, landed, {p: o for p, o in next_offsets.items() if owned(p)})
            rows, advanced, landing = fenced.rows, fenced.advanced, fenced.landing
            if landing == 0 and not advanced:
                return self._result(ident, None, batch, 0, attempt, started, landed)

            # Step 3. The new offset map: everything landed so far, advanced by this batch.
            offsets = {**landed, **advanced}
            offsets_json = orjson.dumps({str(p): o for p, o in sorted(offsets.items())}).decode()

            # Step 4. Write the data files of the rows not pre-written (Parquet on S3). Nothing refers
            # to them yet: a crash here leaves orphan files, never rows.
            failpoint("ingest.before_data_files")
            write_started = time.perf_counter()
            tx = MemoTransaction(table)
            update = tx.update_snapshot(
                snapshot_properties={TOPIC_PROPERTY: self.topic, OFFSETS_PROPERTY: offsets_json}
            )
            merge = table.properties.get("commit.manifest-merge.enabled", "false") == "true"
            producer = update.merge_append() if merge else update.fast_append()
            files = [*fenced.ready, *_write(table, tx.table_metadata, rows, spec, producer.commit_uuid)]
            failpoint("ingest.after_data_files")

            # Step 5. One atomic commit: manifests and manifest list, the offsets property, the expiry of
            # old snapshots (so commit time does not grow with history), a new metadata file, then the
            # catalog's compare-and-swap of the metadata location. This is what a reader waits for.
            commit_started = time.perf_counter()
            try:
                for data_file in files:
                    producer.append_data_file(data_file)
                producer.commit()  # manifests and the manifest list
                tx.set_properties({offsets_property(self.topic): offsets_json})
                expired = _expirable(table, self.config)
                if expired:
                    ExpireSnapshots(tx).by_ids(expired).commit()
                tx.commit_transaction()  # metadata file, then the catalog swap
            except CommitFailedException:
                self._tables.pop(ident, None)
                # Step 6. Someone else committed first: back off, refresh and start over from step 1.
                low, high = self.config.backoff_ms
                time.sleep(min(high, low * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0) / 1000)
                table = self.catalog.load_table(ident)
                continue
            except BaseException:
                # Step 6b. The outcome is unknown (e.g. the connection died with the swap sent: PostgreSQL
                # may have committed it). Forget the cached table: whoever retries reloads it, and its
                # offsets (step 1) say whether this commit landed. Never assume either way.
                self._tables.pop(ident, None)
                raise
            commit_ms = (time.perf_counter() - commit_started) * 1000
            write_ms = (commit_started - write_started) * 1000
            failpoint("ingest.after_catalog_swap")
            # Step 7. The commit landed: report it (the caller commits Kafka offsets only after this).
            self._tables[ident] = table
            result = self._result(ident, table.current_snapshot(), batch, landing, attempt, started, offsets)
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
        rows: int,
        attempts: int,
        started: float,
        offsets: dict[int, int],
    ) -> CommitResult:
        props = snapshot.summary.additional_properties if snapshot is not None and snapshot.summary else {}
        return CommitResult(
            table=ident,
            rows=rows if snapshot is not None else 0,
            skipped_rows=batch.num_rows - (rows if snapshot is not None else 0),
            files=int(props.get("added-data-files", 0)),
            bytes=int(props.get("added-files-size", 0)),
            attempts=attempts,
            duration_ms=(time.perf_counter() - started) * 1000,
            offsets=offsets,
            snapshot_id=snapshot.snapshot_id if snapshot is not None else None,
        )


def _write(
    table: Table, metadata: TableMetadata, rows: pa.Table, spec: TableSpec, uuid: UUID
) -> list[DataFile]:
    """Write ``rows`` as the table's data files (its schema, partitioning and file properties), with
    pyiceberg's own writer (:func:`lakehouse.adapters.iceberg.write_data_files`)."""
    if rows.num_rows == 0:
        return []
    return write_data_files(table, metadata, _conform(rows, spec), uuid)


def _conform(rows: pa.Table, spec: TableSpec) -> pa.Table:
    """The table's columns, in its order and with its nullability (Arrow builders mark all nullable)."""
    schema = arrow_parse_schema(spec.model)
    return rows.select(schema.names).cast(schema)


@dataclass(frozen=True)
class Fenced:
    """What a batch may still land: pre-written files kept whole, rows to write, offsets it advances."""

    ready: tuple[DataFile, ...]
    ready_rows: int
    rows: pa.Table
    advanced: dict[int, int]

    @property
    def landing(self) -> int:
        return int(self.rows.num_rows) + self.ready_rows


def fence(batch: TableBatch, landed: dict[int, int], mine: dict[int, int]) -> Fenced:
    """Only the partitions ``mine`` (still owned, with the batch's next offsets), only the rows not in
    ``landed``. A pre-written segment is kept whole or not at all: if any of its rows fails the fence, its
    rows rejoin the others to be filtered and written again (its files become orphans)."""
    judged = [
        (segment, files, _unlanded(segment, landed, mine).num_rows == segment.num_rows)
        for segment, files in batch.prewritten
    ]
    redo = [batch.rows, *(segment for segment, _, whole in judged if not whole)]
    return Fenced(
        ready=tuple(f for _, files, whole in judged if whole for f in files),
        ready_rows=sum(segment.num_rows for segment, _, whole in judged if whole),
        rows=_unlanded(pa.concat_tables(redo) if len(redo) > 1 else redo[0], landed, mine),
        advanced={p: o for p, o in mine.items() if o > landed.get(p, -1)},
    )


def _unlanded(rows: pa.Table, landed: dict[int, int], owned_next: dict[int, int]) -> pa.Table:
    """Rows from owned partitions whose offset is at or beyond the table's committed offset (the rows
    themselves, uncopied, when that is all of them: the usual case, checked in one vectorised pass)."""
    if rows.num_rows == 0:
        return rows
    parts = np.asarray(rows.column(PARTITION_COLUMN).to_numpy(), dtype=np.int64)
    offsets = np.asarray(rows.column(OFFSET_COLUMN).to_numpy(), dtype=np.int64)
    floor = np.full(int(parts.max()) + 1, np.iinfo(np.int64).max, dtype=np.int64)  # not owned: none kept
    for p in owned_next:
        if 0 <= p < len(floor):
            floor[p] = landed.get(p, 0)
    keep = offsets >= floor[parts]
    if keep.all():
        return rows
    return rows.filter(pa.array(keep))


def _expirable(table: Table, config: WriterConfig) -> list[int]:
    """Snapshots older than the newest ``retain_snapshots``, once there are ``expire_batch`` of them."""
    snapshots = sorted(table.metadata.snapshots, key=lambda s: s.timestamp_ms)
    excess = len(snapshots) + 1 - config.retain_snapshots  # +1: the snapshot being committed
    if excess < config.expire_batch:
        return []
    current = table.current_snapshot()
    keep = {current.snapshot_id} if current is not None else set()
    return [s.snapshot_id for s in snapshots[:excess] if s.snapshot_id not in keep]


def _fail_after_metadata_file(catalog: Catalog) -> None:
    """Arm the failpoint between step 5's metadata file and its catalog swap (tests only): the catalog
    writes the file and swaps in one call, so the failpoint follows its metadata write (the reliability
    suite checks that a crash here leaves the new metadata file on S3 and the catalog on the old one)."""
    after_metadata_write(catalog, lambda: failpoint("ingest.after_metadata_file"))
