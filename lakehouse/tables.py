"""The lake's table definitions: name, schema (derived from the contract), partitioning, properties.

``ensure_table`` creates a table that is missing and evolves one whose contract gained optional fields
(pyiceberg's ``union_by_name``: old data files are untouched, old rows read the new field as null).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from enum import StrEnum

from pydantic import BaseModel
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import (
    CommitFailedException,
    NamespaceAlreadyExistsError,
    NoSuchTableError,
    TableAlreadyExistsError,
)
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema, index_by_name
from pyiceberg.table import Table
from pyiceberg.transforms import DayTransform
from sqlalchemy.exc import IntegrityError

from lakehouse.derive import iceberg_schema
from lakehouse.failure_model import DroneRisk, ModelCard
from lakehouse.schemas import Alert, CitizenObservation, DroneReport
from lakehouse.settings import Settings

logger = logging.getLogger("harmony.lakehouse")

# Written by streaming appends: the writer retries commits itself after re-reading the committed Kafka
# offsets, so pyiceberg's own retry (which would blindly re-apply the append) is switched off. Each append
# adds a small manifest; once 16 have gathered they are merged into one, and a merged manifest stops
# growing at 128 KiB, so a commit reads a bounded number of manifests however long the stream has run (at
# 8 MiB every merge re-read every file ever appended, and commits slowed as the table aged). `harmony
# lake maintain` rewrites the manifests in bulk.
STREAMING_PROPERTIES = {
    "format-version": "2",
    "commit.retry.num-retries": "0",
    "commit.manifest-merge.enabled": "true",
    "commit.manifest.min-count-to-merge": "16",
    "commit.manifest.target-size-bytes": str(128 << 10),
    "write.parquet.compression-codec": "zstd",
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "20",
}
# Properties exactly-once depends on: checked on every existing table at start-up and put back if changed.
REQUIRED_PROPERTIES = {"commit.retry.num-retries": "0"}


@dataclass(frozen=True)
class TableSpec:
    """One Iceberg table of the lake."""

    layer: str  # "raw" or "answers": which namespace of the settings it lives in
    name: str
    model: type[BaseModel]
    day_partition: str | None = "event_time"
    properties: dict[str, str] = field(
        default_factory=lambda: dict(STREAMING_PROPERTIES), hash=False, compare=False
    )

    def identifier(self, settings: Settings) -> str:
        namespace = (
            settings.catalog.raw_namespace if self.layer == "raw" else settings.catalog.answers_namespace
        )
        return f"{namespace}.{self.name}"

    @property
    def schema(self) -> Schema:
        return iceberg_schema(self.model)

    def partition_spec(self, schema: Schema) -> PartitionSpec:
        if self.day_partition is None:
            return PartitionSpec()
        source = schema.find_field(self.day_partition)
        return PartitionSpec(
            PartitionField(
                source_id=source.field_id,
                field_id=1000,
                transform=DayTransform(),
                name=f"{self.day_partition}_day",
            )
        )


REPORTS = TableSpec("raw", "reports", DroneReport)
CITIZEN_OBSERVATIONS = TableSpec("raw", "citizen_observations", CitizenObservation)
ALERTS = TableSpec("raw", "alerts", Alert)

RAW_TABLES = (REPORTS, CITIZEN_OBSERVATIONS, ALERTS)
# The `harmony ingest --stream` that lands each raw table (``ingest.streams`` says how), for whoever
# must tell a user on an empty lane what fills a table.
INGEST_STREAM = {REPORTS.name: "reports", CITIZEN_OBSERVATIONS.name: "reports", ALERTS.name: "alerts"}

# Predictive maintenance (``lakehouse.failure_model``): one row per trained model version, appended; and
# the fleet's current risk, replaced by every scoring run. Small tables written in one commit each.
_ANSWER_PROPERTIES = {"format-version": "2", "write.parquet.compression-codec": "zstd"}
MAINTENANCE_MODEL = TableSpec(
    "answers", "maintenance_model", ModelCard, day_partition=None, properties=dict(_ANSWER_PROPERTIES)
)
DRONE_RISK = TableSpec(
    "answers", "drone_risk", DroneRisk, day_partition=None, properties=dict(_ANSWER_PROPERTIES)
)


class Answer(StrEnum):
    """The analytic answers Spark writes (and DuckDB cross-checks), in the answers namespace."""

    BY_DAY = "unrest_by_day"
    BY_WEEKDAY = "unrest_by_weekday"
    BY_HOUR = "unrest_by_hour"
    BY_ZONE = "riskiest_zones"
    WORDS = "words_of_unrest"
    BY_ZONE_HOUR = "unrest_by_zone_hour"  # the fine grain (day × zone × hour) the dashboard filters on

    def identifier(self, settings: Settings) -> str:
        return f"{settings.catalog.answers_namespace}.{self.value}"


# Parameters of the questions themselves, shared by every engine that answers them.
MIN_WORD_SUPPORT = 50  # a word heard by fewer citizen observations gets no lift rank
PEAK_HOURS = 3  # the hours flagged as peak unrest

# Table property of a raw table, + topic: the next Kafka offset per partition landed in it (JSON), written
# by ingest in the same commit as the rows, read by anyone who wants to know how far the lake has come.
KAFKA_OFFSETS_PROPERTY_PREFIX = "harmony.kafka.offsets."

# Snapshot-summary properties of an answer: the raw tables' snapshot ids it was computed from, and how.
SOURCE_SNAPSHOTS_PROPERTY = "harmony.source-snapshots"
ANALYZE_MODE_PROPERTY = "harmony.analyze-mode"


def namespaces_named(statement: str, settings: Settings) -> list[str]:
    """The lake's namespaces (raw, answers) a SQL text names as a word: an engine's "schema not found"
    on one of them means a lane that was never filled, which deserves a hint rather than a failure."""
    configured = dict.fromkeys((settings.catalog.raw_namespace, settings.catalog.answers_namespace))
    return [ns for ns in configured if re.search(rf"(?<!\w){re.escape(ns)}(?!\w)", statement, re.IGNORECASE)]


def ensure_namespace(catalog: Catalog, namespace: str) -> None:
    """Create ``namespace`` unless it exists; safe when several processes do it at the same instant.

    pyiceberg's ``create_namespace_if_not_exists`` checks, then inserts: two processes can both pass
    the check, and the loser's insert fails on the catalog's unique key (``IntegrityError``).
    """
    if catalog.namespace_exists(namespace):
        return
    try:
        catalog.create_namespace(namespace)
    except (NamespaceAlreadyExistsError, IntegrityError):
        if not catalog.namespace_exists(namespace):
            raise


def purge_namespace(catalog: Catalog, namespace: str) -> None:
    """Drop every table of ``namespace`` with its files, then the namespace (tests, benchmarks)."""
    if not catalog.namespace_exists(namespace):
        return
    for ident in catalog.list_tables(namespace):
        catalog.purge_table(ident)
    catalog.drop_namespace(namespace)


def _create(catalog: Catalog, spec: TableSpec, ident: str) -> Table:
    """Create the table; if another process created it first, load theirs (the same definition)."""
    schema = spec.schema
    try:
        return catalog.create_table(
            ident, schema=schema, partition_spec=spec.partition_spec(schema), properties=spec.properties
        )
    except (TableAlreadyExistsError, IntegrityError):
        return catalog.load_table(ident)


def _repair_properties(table: Table, spec: TableSpec) -> Table:
    """Put back the properties exactly-once relies on, if someone changed them."""
    wrong = {
        k: v for k, v in REQUIRED_PROPERTIES.items() if k in spec.properties and table.properties.get(k) != v
    }
    if not wrong:
        return table
    logger.warning(
        "%s: restoring table properties %s (were %s)",
        ".".join(table.name()),
        wrong,
        {k: table.properties.get(k) for k in wrong},
    )
    with table.transaction() as tx:
        tx.set_properties(wrong)
    return table


def ensure_table(catalog: Catalog, spec: TableSpec, settings: Settings, attempts: int = 10) -> Table:
    """Load the table, creating it (and its namespace), adding new optional contract fields to it, or
    relaxing a field the contract now allows to be null.

    Idempotent and safe under races: any number of workers may call it at once on a new lake.
    """
    ident = spec.identifier(settings)
    for _ in range(attempts):
        try:
            table = catalog.load_table(ident)
        except NoSuchTableError:
            ensure_namespace(catalog, ident.split(".")[0])
            table = _create(catalog, spec, ident)
        try:
            wanted, current = index_by_name(spec.schema), index_by_name(table.schema())
            missing = set(wanted) - set(current)
            # A field the contract made optional (e.g. a figure that can now be unknown): Iceberg allows
            # required → optional, and rows with nulls could not be written otherwise.
            relaxed = [
                name
                for name in set(wanted) & set(current)
                if not spec.schema.find_field(wanted[name]).required
                and table.schema().find_field(current[name]).required
            ]
            if missing or relaxed:
                with table.update_schema() as update:
                    if missing:
                        update.union_by_name(spec.schema)
                    for name in relaxed:
                        update.make_column_optional(name)
                table = catalog.load_table(ident)
            return _repair_properties(table, spec)
        except CommitFailedException:
            continue  # another worker evolved or repaired it first: look again
    raise RuntimeError(f"{ident}: could not create or evolve the table after {attempts} attempts")


def models_folder(settings: Settings) -> str:
    """Where the failure models' MLlib pipelines live in the warehouse (``<bucket>/...``, no scheme): one
    folder per answers namespace, so two lanes on one stack never write each other's ``v1``."""
    return f"{settings.s3.bucket}/models/{settings.catalog.answers_namespace}/maintenance"


def latest_model_card(catalog: Catalog, settings: Settings) -> ModelCard | None:
    """The newest trained failure model's card, or None before the first `harmony maintenance train`."""
    ident = MAINTENANCE_MODEL.identifier(settings)
    if not catalog.table_exists(ident):
        return None
    rows = catalog.load_table(ident).scan().to_arrow().to_pylist()
    return ModelCard.model_validate(max(rows, key=lambda r: r["version"])) if rows else None
