"""A new optional field in the contract is added to the live table; old files stay as they are."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog

from ingest.writer import OFFSET_COLUMN, PARTITION_COLUMN, ExactlyOnceWriter, TableBatch
from lakehouse.catalog import load_catalog
from lakehouse.derive import arrow_schema
from lakehouse.query import duck, trino_sql
from lakehouse.schemas import CitizenObservation
from lakehouse.settings import Settings
from lakehouse.tables import TableSpec, ensure_table
from testkit.writer_rows import rows


class CitizenObservationV2(CitizenObservation):
    """The contract one release later: drones now also report the citizen's mood."""

    mood: str | None = None


@pytest.fixture()
def specs(stack: Settings) -> Iterator[tuple[TableSpec, TableSpec, Catalog, str]]:
    name = f"evolve_{uuid.uuid4().hex[:8]}"
    v1 = TableSpec("raw", name, CitizenObservation)
    v2 = TableSpec("raw", name, CitizenObservationV2)
    catalog = load_catalog(stack)
    yield v1, v2, catalog, v1.identifier(stack)
    catalog.purge_table(v1.identifier(stack))


def test_new_optional_field_is_added_on_the_fly(
    stack: Settings, specs: tuple[TableSpec, TableSpec, Catalog, str]
) -> None:
    v1, v2, catalog, ident = specs
    ensure_table(catalog, v1, stack)
    ExactlyOnceWriter(catalog, "t", {v1: ident}).commit({v1: TableBatch(rows(0, 0, 10))}, {0: 10})
    old_files = {f.file.file_path for f in catalog.load_table(ident).scan().plan_files()}

    table = ensure_table(catalog, v2, stack)
    mood = table.schema().find_field("mood")
    assert not mood.required
    assert ensure_table(catalog, v2, stack).schema() == table.schema(), "evolving twice changes nothing"

    new_rows = rows(0, 10, 15).append_column("mood", pa.array(["calm"] * 5))
    ExactlyOnceWriter(catalog, "t", {v2: ident}).commit({v2: TableBatch(new_rows)}, {0: 15})
    table = catalog.load_table(ident)
    files = {f.file.file_path for f in table.scan().plan_files()}
    assert old_files < files, "old data files are untouched, new ones added"

    by_mood = dict(trino_sql.query(f"SELECT coalesce(mood, 'null'), count(*) FROM {ident} GROUP BY 1", stack))
    assert by_mood == {"null": 10, "calm": 5}
    con = duck.connect(stack)
    got = con.execute(
        f"SELECT count(*) FILTER (mood IS NULL), count(mood) FROM {duck.scan(table)}"
    ).fetchone()
    assert got == (10, 5)
    assert (
        PARTITION_COLUMN not in table.schema().column_names
        and OFFSET_COLUMN not in table.schema().column_names
    )


def test_a_field_the_contract_makes_optional_is_relaxed(stack: Settings) -> None:
    """A figure that may now be unknown (drone_risk's hours since service): required → optional in place,
    and a row with the null lands."""
    from pydantic import BaseModel

    class Before(BaseModel):
        drone_id: str
        hours: float

    class After(BaseModel):
        drone_id: str
        hours: float | None

    name = f"relax_{uuid.uuid4().hex[:8]}"
    before, after = (
        TableSpec("answers", name, Before, day_partition=None),
        TableSpec("answers", name, After, day_partition=None),
    )
    catalog = load_catalog(stack)
    ident = before.identifier(stack)
    try:
        assert ensure_table(catalog, before, stack).schema().find_field("hours").required
        table = ensure_table(catalog, after, stack)
        assert not table.schema().find_field("hours").required
        table.append(pa.Table.from_pylist([{"drone_id": "d1", "hours": None}], schema=arrow_schema(After)))
        assert catalog.load_table(ident).scan().to_arrow().to_pylist() == [{"drone_id": "d1", "hours": None}]
    finally:
        catalog.purge_table(ident)
