"""`harmony demo --reset`: start the lane over, as if the platform had never run on this stack.

A lane is everything the processors and the lake hold for one set of settings: the Iceberg namespaces
(raw tables and answers) with their files and the models in the warehouse, the Kafka topics with the
consumer groups and Quix's internal topics of the product's groups, the live-alerts table, and the
processors' local state (Quix state folders, parked alerts). The servers keep running; the topics are
created again, empty, as `harmony stack up` provisions them.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable

from confluent_kafka.admin import AdminClient
from psycopg2 import sql

from lakehouse.catalog import load_catalog
from lakehouse.query import live_alerts
from lakehouse.settings import Settings
from lakehouse.storage import s3_filesystem
from lakehouse.streaming.state import QUIX_FOLDER
from lakehouse.tables import models_folder, purge_namespace
from stack import manager

PARKED_FOLDER = "alerting"  # the delivery sinks' parked alerts: <delivery group>-<sink>-parked.jsonl


def product_groups(settings: Settings) -> tuple[str, ...]:
    """Every consumer group the product's processors use with these settings."""
    base = settings.ingest.consumer_group
    alerting = settings.alerting
    return (f"{base}-reports", f"{base}-alerts", alerting.consumer_group, alerting.delivery_group)


def reset(settings: Settings, report: Callable[[str], None]) -> None:
    catalog = load_catalog(settings)
    for ns in (settings.catalog.raw_namespace, settings.catalog.answers_namespace):
        purge_namespace(catalog, ns)
    s3 = s3_filesystem(settings)
    models = models_folder(settings)
    if s3.get_file_info(models).type.name != "NotFound":
        s3.delete_dir(models)
    report("lake: raw tables, answers and models removed")

    admin = AdminClient(settings.kafka.client())
    groups = product_groups(settings)
    internal = [t for t in admin.list_topics(timeout=10).topics if any(f"__{g}--" in t for g in groups)]
    topics = [t for t in (*settings.kafka.topics, *internal) if t in admin.list_topics(timeout=10).topics]
    for fut in admin.delete_topics(topics, operation_timeout=30).values() if topics else ():
        fut.result()
    deadline = time.monotonic() + 60
    while set(topics) & set(admin.list_topics(timeout=10).topics):
        if time.monotonic() > deadline:
            raise RuntimeError(f"kafka: topics still being deleted after 60 s: {topics}")
        time.sleep(0.5)
    known = {g.group_id for g in admin.list_consumer_groups(request_timeout=10).result().valid}
    gone = [g for g in groups if g in known]
    for fut in admin.delete_consumer_groups(gone, request_timeout=30).values() if gone else ():
        fut.result()
    for attempt in range(20):  # a deleted topic's name can be refused for a moment after it is gone
        try:
            manager.provision_topics(settings)
            break
        except Exception:
            if attempt == 19:
                raise
            time.sleep(1)
    report(f"kafka: {len(topics)} topics and {len(gone)} consumer groups removed, topics created again")

    conn = live_alerts.connect(settings)
    try:
        with conn.cursor() as cur:
            table = sql.Identifier(settings.postgres.alerts_table)
            cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))
        conn.commit()
    finally:
        conn.close()
    for group in groups:  # this lane's only: other lanes on the same stack keep theirs
        shutil.rmtree(settings.state_path / QUIX_FOLDER / group, ignore_errors=True)
    for parked in (settings.state_path / PARKED_FOLDER).glob(
        f"{settings.alerting.delivery_group}-*-parked.jsonl"
    ):
        parked.unlink()
    report("live alerts and the processors' local state removed")
