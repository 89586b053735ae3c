"""A round trip through every service of a running stack: what `harmony demo` checks first."""

from __future__ import annotations

import time
import uuid

import pyarrow as pa
from confluent_kafka import Consumer, Producer

from lakehouse.catalog import load_catalog
from lakehouse.query import duck, trino_sql
from lakehouse.settings import Settings
from lakehouse.storage import s3_filesystem
from lakehouse.tables import ensure_namespace

SMOKE_NAMESPACE = "smoke"


def kafka_round_trip(settings: Settings) -> None:
    topic = settings.kafka.dead_letter_topic
    token = uuid.uuid4().hex.encode()
    producer = Producer(settings.kafka.client())
    producer.produce(topic, key=b"smoke", value=token)
    if producer.flush(10) != 0:
        raise RuntimeError("kafka: smoke message not delivered")
    consumer = Consumer(
        {
            **settings.kafka.client(),
            "group.id": f"smoke-{token.decode()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and not msg.error() and msg.value() == token:
                return
    finally:
        consumer.close()
    raise RuntimeError("kafka: smoke message not consumed back within 30 s")


def s3_round_trip(settings: Settings) -> None:
    s3fs = s3_filesystem(settings)
    path = f"{settings.s3.bucket}/smoke/{uuid.uuid4().hex}"
    with s3fs.open_output_stream(path) as out:
        out.write(b"harmony")
    with s3fs.open_input_stream(path) as inp:
        if inp.read() != b"harmony":
            raise RuntimeError("s3: object read back differs")
    s3fs.delete_file(path)


def lake_round_trip(settings: Settings) -> int:
    """Write rows through pyiceberg; read them back through DuckDB and Trino; return the row count."""
    catalog = load_catalog(settings)
    ensure_namespace(catalog, SMOKE_NAMESPACE)
    ident = f"{SMOKE_NAMESPACE}.round_trip"
    rows = pa.table({"id": pa.array([1, 2, 3], pa.int64()), "word": ["harmony", "unity", "order"]})
    if catalog.table_exists(ident):
        catalog.purge_table(ident)
    table = catalog.create_table(ident, schema=rows.schema)
    table.append(rows)
    con = duck.connect(settings)
    via_duckdb = con.execute(f"SELECT count(*), sum(id) FROM {duck.scan(table)}").fetchone()  # noqa: S608
    via_trino = trino_sql.query(f"SELECT count(*), sum(id) FROM {ident}", settings)[0]  # noqa: S608
    if tuple(via_duckdb or ()) != (3, 6) or tuple(via_trino) != (3, 6):
        raise RuntimeError(
            f"lake: read back {via_duckdb} via DuckDB and {via_trino} via Trino, expected (3, 6)"
        )
    return 3
