"""A fleet lake for predictive maintenance, built once per test session: five weeks of a seeded fleet
(wear, failures, maintenance; few citizens, no riots) → Kafka → ingest → `harmony maintenance train`
and `score` → `harmony alert` over the same topic with the trained model. Registered by
``tests/conftest.py``; read by tests/spark/test_failure_training.py and tests/alerting."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from psycopg2 import sql

from lakehouse.catalog import load_catalog
from lakehouse.query import live_alerts
from lakehouse.settings import Settings
from lakehouse.tables import purge_namespace
from tests.seeded import SeededLake

HOLDOUT_DAYS = 12
FLEET = (
    "--start", "2026-08-03", "--days", "36", "--drones", "40", "--interval", "180", "--riots-per-day", "0",
    "--citizens-per-report", "0.5", "--citizens", "2000", "--seed", "5",
)  # fmt: skip


@pytest.fixture(scope="session")
def fleet_lake(stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededLake]:
    token = uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        "HARMONY_KAFKA__REPORTS_TOPIC": f"test-fleet-reports-{token}",
        "HARMONY_KAFKA__ALERTS_TOPIC": f"test-fleet-alerts-{token}",
        "HARMONY_CATALOG__RAW_NAMESPACE": f"test_fleet_raw_{token}",
        "HARMONY_CATALOG__ANSWERS_NAMESPACE": f"test_fleet_answers_{token}",
        "HARMONY_INGEST__CONSUMER_GROUP": f"test-fleet-ingest-{token}",
        "HARMONY_ALERTING__CONSUMER_GROUP": f"test-fleet-alerting-{token}",
        "HARMONY_POSTGRES__ALERTS_TABLE": f"test_fleet_alerts_{token}",
        "HARMONY_SPARK_DRIVER_MEMORY": "1g",
    }
    settings = stack.model_copy(
        update={
            "kafka": stack.kafka.model_copy(
                update={
                    "reports_topic": env["HARMONY_KAFKA__REPORTS_TOPIC"],
                    "alerts_topic": env["HARMONY_KAFKA__ALERTS_TOPIC"],
                }
            ),
            "catalog": stack.catalog.model_copy(
                update={
                    "raw_namespace": env["HARMONY_CATALOG__RAW_NAMESPACE"],
                    "answers_namespace": env["HARMONY_CATALOG__ANSWERS_NAMESPACE"],
                }
            ),
            "postgres": stack.postgres.model_copy(
                update={"alerts_table": env["HARMONY_POSTGRES__ALERTS_TABLE"]}
            ),
        }
    )
    admin = AdminClient({"bootstrap.servers": stack.kafka.bootstrap_servers})
    for topic in (env["HARMONY_KAFKA__REPORTS_TOPIC"], env["HARMONY_KAFKA__ALERTS_TOPIC"]):
        admin.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1)])[topic].result(15)
    lake = SeededLake(settings, env, tmp_path_factory.mktemp("fleet"))
    lake.harmony("simulate", *FLEET, "--ground-truth", str(lake.tmp / "truth.jsonl"))
    lake.harmony("ingest", "--timeout", "8")
    lake.harmony("maintenance", "train", "--master", "local[2]", "--holdout-days", str(HOLDOUT_DAYS))
    lake.harmony("maintenance", "score", "--master", "local[2]")
    lake.harmony("alert", "--quiet", "--timeout", "10")
    yield lake
    names = [t for t in admin.list_topics(timeout=10).topics if token in t]
    for fut in admin.delete_topics(names).values():
        fut.result(15)
    catalog = load_catalog(stack)
    for ns in (env["HARMONY_CATALOG__RAW_NAMESPACE"], env["HARMONY_CATALOG__ANSWERS_NAMESPACE"]):
        purge_namespace(catalog, ns)
    conn = live_alerts.connect(stack)
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(env["HARMONY_POSTGRES__ALERTS_TABLE"]))
        )
    conn.commit()
    conn.close()
