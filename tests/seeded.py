"""A seeded lake, built once per test session for the areas that read it (Spark, the dashboard):
backfill → ingest and alerting. Registered as a fixture by ``tests/conftest.py``."""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from psycopg2 import sql

from lakehouse.catalog import load_catalog
from lakehouse.query import live_alerts
from lakehouse.settings import Settings
from lakehouse.tables import purge_namespace
from tests.commands import HARMONY

WEEKEND_MULTIPLIER = 1.6
BACKFILL = (
    "--start", "2026-09-07", "--days", "14", "--drones", "16", "--interval", "30", "--riots-per-day", "1",
    "--weekend-multiplier", str(WEEKEND_MULTIPLIER), "--seed", "21",
)  # fmt: skip


@dataclass
class SeededLake:
    settings: Settings  # as the subprocesses see it (private topics, namespaces, groups)
    env: dict[str, str]
    tmp: Path

    def harmony(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        out = subprocess.run(
            [HARMONY, *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        assert out.returncode == 0, f"harmony {' '.join(args)}:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}"
        return out

    def popen(self, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [HARMONY, *args],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=(self.tmp / f"{args[0]}.log").open("ab"),
        )


def settings_seen_by(env: Mapping[str, str]) -> Settings:
    """The settings a `harmony` subprocess started with ``env`` loads (its environment and ``.env``)."""
    saved = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update(env)
        return Settings()
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def private_lake(stack: Settings, name: str, tmp: Path) -> Iterator[SeededLake]:
    """Topics, namespaces, groups and a live-alerts table of its own for one seeded lake (``name``),
    the settings as its ``harmony`` subprocesses see them; everything removed afterwards."""
    token = uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        "HARMONY_KAFKA__REPORTS_TOPIC": f"test-{name}-reports-{token}",
        "HARMONY_KAFKA__ALERTS_TOPIC": f"test-{name}-alerts-{token}",
        "HARMONY_CATALOG__RAW_NAMESPACE": f"test_{name}_raw_{token}",
        "HARMONY_CATALOG__ANSWERS_NAMESPACE": f"test_{name}_answers_{token}",
        "HARMONY_INGEST__CONSUMER_GROUP": f"test-{name}-ingest-{token}",
        "HARMONY_ALERTING__CONSUMER_GROUP": f"test-{name}-alerting-{token}",
        "HARMONY_POSTGRES__ALERTS_TABLE": f"test_{name}_alerts_{token}",
        "HARMONY_SPARK_DRIVER_MEMORY": "1g",
    }
    settings = settings_seen_by(env)
    admin = AdminClient(stack.kafka.client())
    for topic in (env["HARMONY_KAFKA__REPORTS_TOPIC"], env["HARMONY_KAFKA__ALERTS_TOPIC"]):
        admin.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1)])[topic].result(15)
    try:
        yield SeededLake(settings, env, tmp)
    finally:
        names = [t for t in admin.list_topics(timeout=10).topics if token in t]
        for fut in admin.delete_topics(names).values():
            fut.result(15)
        catalog = load_catalog(stack)
        for ns in (env["HARMONY_CATALOG__RAW_NAMESPACE"], env["HARMONY_CATALOG__ANSWERS_NAMESPACE"]):
            purge_namespace(catalog, ns)
        conn = live_alerts.connect(stack)
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL("DROP TABLE IF EXISTS {}").format(
                    sql.Identifier(env["HARMONY_POSTGRES__ALERTS_TABLE"])
                )
            )
        conn.commit()
        conn.close()


@pytest.fixture(scope="session")
def seeded_lake(stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededLake]:
    with private_lake(stack, "spark", tmp_path_factory.mktemp("spark")) as lake:
        lake.harmony("simulate", *BACKFILL, "--ground-truth", str(lake.tmp / "truth.jsonl"))
        # Small commits on purpose: many small files for maintenance to compact.
        ingest = lake.popen("ingest", "--max-rows", "20000", "--timeout", "8")
        lake.harmony("alert", "--quiet", "--timeout", "8")
        lake.harmony("ingest", "--stream", "alerts", "--timeout", "8")
        assert ingest.wait(600) == 0
        yield lake
