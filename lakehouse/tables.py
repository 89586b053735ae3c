"""The lake's table definitions: name, schema (derived from the contract), partitioning, properties.

``ensure_table`` creates a table that is missing and evolves one whose contract gained optional fields
(pyiceberg's ``union_by_name``: old data files are untouched, old rows read the new field as null).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from pydantic import BaseModel
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema, index_by_name
from pyiceberg.table import Table
from pyiceberg.transforms import DayTransform

from lakehouse.derive import iceberg_schema
from lakehouse.schemas import Alert, CitizenObservation, DroneReport
from lakehouse.settings import Settings

# Written by streaming appends: the writer retries commits itself after re-reading the committed Kafka
# offsets, so pyiceberg's own retry (which would blindly re-apply the append) is switched off; manifests
# are merged so the manifest list stays short as commits accumulate.
STREAMING_PROPERTIES = {
    "format-version": "2",
    "commit.retry.num-retries": "0",
    "commit.manifest-merge.enabled": "true",
    "commit.manifest.min-count-to-merge": "100",
    "write.parquet.compression-codec": "zstd",
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "20",
}


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


class Answer(StrEnum):
    """The analytic answers Spark writes (and DuckDB cross-checks), in the answers namespace."""

    BY_DAY = "unrest_by_day"
    BY_WEEKDAY = "unrest_by_weekday"
    BY_HOUR = "unrest_by_hour"
    BY_ZONE = "riskiest_zones"
    WORDS = "words_of_unrest"

    def identifier(self, settings: Settings) -> str:
        return f"{settings.catalog.answers_namespace}.{self.value}"


# Parameters of the questions themselves, shared by every engine that answers them.
MIN_WORD_SUPPORT = 50  # a word heard by fewer citizen observations gets no lift rank
PEAK_HOURS = 3  # the hours flagged as peak unrest

# Snapshot-summary properties of an answer: the raw tables' snapshot ids it was computed from, and how.
SOURCE_SNAPSHOTS_PROPERTY = "harmony.source-snapshots"
ANALYZE_MODE_PROPERTY = "harmony.analyze-mode"


def ensure_table(catalog: Catalog, spec: TableSpec, settings: Settings) -> Table:
    """Load the table, creating it (and its namespace) or adding new optional contract fields to it."""
    ident = spec.identifier(settings)
    try:
        table = catalog.load_table(ident)
    except NoSuchTableError:
        catalog.create_namespace_if_not_exists(ident.split(".")[0])
        schema = spec.schema
        try:
            return catalog.create_table(
                ident, schema=schema, partition_spec=spec.partition_spec(schema), properties=spec.properties
            )
        except Exception:
            # Another worker created it at the same moment.
            if not catalog.table_exists(ident):
                raise
            table = catalog.load_table(ident)
    missing = set(index_by_name(spec.schema)) - set(index_by_name(table.schema()))
    if missing:
        with table.update_schema() as update:
            update.union_by_name(spec.schema)
        table = catalog.load_table(ident)
    return table
