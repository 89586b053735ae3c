"""What the ingest app can land: a topic, its message contract, and the tables built from it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel

from lakehouse.schemas import Alert, DroneReport
from lakehouse.settings import Settings
from lakehouse.tables import ALERTS, CITIZEN_OBSERVATIONS, REPORTS, TableSpec

# A projection turns decoded messages into a table's rows, and says which message each row came from
# (None when it is one row per message, in order).
Projection = Callable[[pa.Table], tuple[pa.Table, pa.Array | None]]


def one_per_message(decoded: pa.Table) -> tuple[pa.Table, pa.Array | None]:
    return decoded, None


def citizen_observations(reports: pa.Table) -> tuple[pa.Table, pa.Array | None]:
    """One row per citizen seen, with the report's id, time, drone and zone."""
    citizens = reports.column("citizens").combine_chunks()
    parents = pc.list_parent_indices(citizens)
    flat = pc.list_flatten(citizens)
    carried = reports.select(["report_id", "drone_id", "event_time", "zone"]).take(parents)
    columns = {name: carried.column(name) for name in carried.column_names}
    for name in ("citizen_id", "name", "harmony_score"):
        columns[name] = pc.struct_field(flat, name)
    return pa.table(columns), parents


@dataclass(frozen=True)
class Stream:
    name: str
    model: type[BaseModel]
    topic: Callable[[Settings], str]
    tables: tuple[tuple[TableSpec, Projection], ...]

    def consumer_group(self, base: str) -> str:
        """The stream's own consumer group, named from the configured ``ingest.consumer_group``."""
        return f"{base}-{self.name}"


STREAMS = {
    "reports": Stream(
        "reports",
        DroneReport,
        lambda s: s.kafka.reports_topic,
        ((REPORTS, one_per_message), (CITIZEN_OBSERVATIONS, citizen_observations)),
    ),
    "alerts": Stream("alerts", Alert, lambda s: s.kafka.alerts_topic, ((ALERTS, one_per_message),)),
}
