"""Lake maintenance with Iceberg's own Spark procedures: compact files and manifests, expire, remove orphans.

Safe while ingest is writing: compaction commits a "replace" snapshot (no data change) through the same
optimistic concurrency as ingest, and the ingest writer keeps its Kafka offsets in a table property,
which neither compaction nor expiry touches (``ingest.writer.committed_offsets``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pyspark.sql import Row, SparkSession

from lakehouse.catalog import load_catalog
from lakehouse.settings import Settings
from lakehouse.tables import RAW_TABLES

# Expiry keeps at least this many recent snapshots (for time travel and incremental reads) and
# orphan removal only touches files older than this, so an in-flight ingest commit is never harmed.
RETAIN_LAST = 20
ORPHAN_AGE_HOURS = 24
logger = logging.getLogger("harmony.spark")


@dataclass(frozen=True)
class MaintenanceRun:
    table: str
    files_before: int
    files_after: int
    rows_before: int
    rows_after: int
    rewritten: int
    added: int
    manifests_rewritten: int = 0
    manifests_added: int = 0


def _files_and_rows(spark: SparkSession, ident: str) -> tuple[int, int]:
    row = spark.sql(
        f"SELECT count(*) AS files, coalesce(sum(record_count), 0) AS rows FROM {ident}.files"  # noqa: S608
    ).first()
    assert row is not None
    return int(row["files"]), int(row["rows"])


# A procedure's commit can meet an ingest commit that landed since it read the table. Iceberg would retry
# it itself, but the raw tables switch its retries off (``commit.retry.num-retries`` = 0: pyiceberg's retry
# would re-apply an append blindly, see ``lakehouse.tables``) and Spark's procedures obey the table's
# setting, so the conflict reaches us: CommitFailedException (the catalog's pointer moved), or a
# ValidationException (a concurrent commit that merged manifests removed the ones a rewrite replaced). The
# procedure is then started again on the table's new state.
CONFLICTS = ("ValidationException", "CommitFailedException")
ATTEMPTS = 5


def _call(spark: SparkSession, statement: str, short: str, what: str) -> Row | None:
    """Run a committing procedure, again on the new state after a conflict; after ``ATTEMPTS`` conflicts
    it is left for the next run with a warning (compaction, manifest packing and expiry are all things a
    later run does as well: no data depends on them)."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return spark.sql(statement).first()
        except Exception as exc:
            if not any(name in str(exc) for name in CONFLICTS):
                raise
            logger.warning(
                "%s: a concurrent commit got there first (%s, try %d); trying again", short, what, attempt
            )
            time.sleep(0.5 * attempt)
    logger.warning("%s: %s left for the next run: every try met a concurrent commit", short, what)
    return None


NOTHING_TO_MAINTAIN = "no raw tables yet: run `harmony demo` (or `harmony ingest`) first"


def nothing_to_maintain(settings: Settings) -> str | None:
    """Why there is nothing to maintain (no raw table exists yet), asked of the catalog before a JVM is
    started: a lane never filled is not an error, and Spark's start costs seconds and a page of logs."""
    catalog = load_catalog(settings)
    if any(catalog.table_exists(spec.identifier(settings)) for spec in RAW_TABLES):
        return None
    return NOTHING_TO_MAINTAIN


def maintain(
    spark: SparkSession, settings: Settings, orphan_age_hours: float = ORPHAN_AGE_HOURS
) -> list[MaintenanceRun]:
    cat = settings.catalog.name
    runs = []
    for spec in RAW_TABLES:
        ident = f"{cat}.{spec.identifier(settings)}"
        short = spec.identifier(settings)
        if not spark.catalog.tableExists(ident):
            continue
        files_before, rows_before = _files_and_rows(spark, ident)
        rewrite = _call(
            spark,
            f"CALL {cat}.system.rewrite_data_files(table => '{short}', "
            "options => map('min-input-files', '2', 'partial-progress.enabled', 'true'))",
            short,
            "compaction",
        )
        # Streaming appends merge their small manifests only up to 128 KiB each; this packs them all.
        manifests = _call(
            spark, f"CALL {cat}.system.rewrite_manifests(table => '{short}')", short, "manifest rewrite"
        )
        # Procedure arguments must be literals: timestamps are computed here (the session is UTC).
        now = datetime.now(UTC)
        _call(
            spark,
            f"CALL {cat}.system.expire_snapshots(table => '{short}', retain_last => {RETAIN_LAST}, "
            f"older_than => TIMESTAMP '{now:%Y-%m-%d %H:%M:%S}')",
            short,
            "snapshot expiry",
        )
        orphan_cutoff = now - timedelta(hours=orphan_age_hours)
        spark.sql(
            f"CALL {cat}.system.remove_orphan_files(table => '{short}', "
            f"older_than => TIMESTAMP '{orphan_cutoff:%Y-%m-%d %H:%M:%S}', prefix_listing => true)"
        ).collect()
        files_after, rows_after = _files_and_rows(spark, ident)
        runs.append(
            MaintenanceRun(
                short,
                files_before,
                files_after,
                rows_before,
                rows_after,
                int(rewrite["rewritten_data_files_count"]) if rewrite else 0,
                int(rewrite["added_data_files_count"]) if rewrite else 0,
                int(manifests["rewritten_manifests_count"]) if manifests else 0,
                int(manifests["added_manifests_count"]) if manifests else 0,
            )
        )
    return runs
