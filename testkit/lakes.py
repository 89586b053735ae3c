"""A lake of its own on the real stack, for one test module, one session fixture or one benchmark: topics,
raw and answers namespaces, consumer groups and a live-alerts table named after it, the settings as its
``harmony`` subprocesses see them, and everything removed afterwards (unless kept for inspection)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka.admin import AdminClient, NewTopic
from psycopg2 import sql

from lakehouse.catalog import load_catalog
from lakehouse.query import live_alerts
from lakehouse.settings import Settings, get_settings
from lakehouse.tables import purge_namespace
from testkit.commands import HARMONY, simulate


@dataclass(frozen=True)
class Lake:
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

    def fill(self, *simulate_args: str) -> tuple[float, float]:
        """Backfill with ``simulate_args``, then one ingest worker until idle: (produce s, ingest s)."""
        t0 = time.monotonic()
        subprocess.run(simulate(*simulate_args), env=self.env, check=True, capture_output=True)
        produce_s = time.monotonic() - t0
        t0 = time.monotonic()
        subprocess.run([HARMONY, "ingest", "--timeout", "15"], env=self.env, check=True, capture_output=True)
        return produce_s, time.monotonic() - t0

    def use_here(self) -> Settings:
        """Point this process's settings (``get_settings``) at the lake too: for code run in-process."""
        os.environ.update({k: v for k, v in self.env.items() if k.startswith("HARMONY_")})
        get_settings.cache_clear()
        return get_settings()


@contextlib.contextmanager
def alerts_copied(lake: Lake) -> Iterator[Lake]:
    """The lake with a live-alerts table of its own, a copy of the lake's (copy on write for PostgreSQL):
    a test that adds alerts changes only its copy, dropped afterwards."""
    source = lake.settings.postgres.alerts_table
    copy = f"{source}_copy_{uuid.uuid4().hex[:6]}"
    env = {**lake.env, "HARMONY_POSTGRES__ALERTS_TABLE": copy}
    conn = live_alerts.connect(lake.settings)
    try:
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL(
                    "CREATE TABLE {c} (LIKE {s} INCLUDING ALL); INSERT INTO {c} SELECT * FROM {s}"
                ).format(c=sql.Identifier(copy), s=sql.Identifier(source))
            )
        conn.commit()
        yield dataclasses.replace(lake, env=env, settings=settings_seen_by(env))
    finally:
        conn.rollback()
        with conn.cursor() as cur:
            cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(copy)))
        conn.commit()
        conn.close()


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


def lake_names(prefix: str, name: str, token: str) -> dict[str, str]:
    """The HARMONY_ variables that give a lake topics, namespaces, groups and a live-alerts table of its
    own, each named ``<prefix>-<name>-<what>-<token>`` (underscores where the store wants them)."""
    return {
        "HARMONY_KAFKA__REPORTS_TOPIC": f"{prefix}-{name}-reports-{token}",
        "HARMONY_KAFKA__ALERTS_TOPIC": f"{prefix}-{name}-alerts-{token}",
        "HARMONY_CATALOG__RAW_NAMESPACE": f"{prefix}_{name}_raw_{token}",
        "HARMONY_CATALOG__ANSWERS_NAMESPACE": f"{prefix}_{name}_answers_{token}",
        "HARMONY_INGEST__CONSUMER_GROUP": f"{prefix}-{name}-ingest-{token}",
        "HARMONY_ALERTING__CONSUMER_GROUP": f"{prefix}-{name}-alerting-{token}",
        "HARMONY_POSTGRES__ALERTS_TABLE": f"{prefix}_{name}_alerts_{token}",
    }


@contextlib.contextmanager
def private_lake(
    stack: Settings, name: str, tmp: Path, *, prefix: str = "test", keep: bool = False
) -> Iterator[Lake]:
    """A lake named ``<prefix>-<name>-<token>`` on the stack ``stack`` reaches; ``keep``: left in place."""
    token = uuid.uuid4().hex[:8]
    env = {**os.environ, **lake_names(prefix, name, token), "HARMONY_SPARK_DRIVER_MEMORY": "1g"}
    admin = AdminClient(stack.kafka.client())
    for topic in (env["HARMONY_KAFKA__REPORTS_TOPIC"], env["HARMONY_KAFKA__ALERTS_TOPIC"]):
        admin.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1)])[topic].result(15)
    try:
        yield Lake(settings_seen_by(env), env, tmp)
    finally:
        if keep:
            print("kept: " + " ".join(f"{k}={v}" for k, v in env.items() if k.startswith("HARMONY_")))
        else:
            remove_lake(stack, env, token, admin)


def remove_lake(
    stack: Settings, env: Mapping[str, str], token: str, admin: AdminClient, timeout_s: float = 15
) -> None:
    """Everything a lake named with ``token`` made: its topics, namespaces and live-alerts table."""
    names = [t for t in admin.list_topics(timeout=10).topics if token in t]
    for fut in admin.delete_topics(names).values() if names else ():
        fut.result(timeout_s)
    catalog = load_catalog(stack)
    for ns in (env["HARMONY_CATALOG__RAW_NAMESPACE"], env["HARMONY_CATALOG__ANSWERS_NAMESPACE"]):
        purge_namespace(catalog, ns)
    conn = live_alerts.connect(stack)
    with conn.cursor() as cur:
        table = sql.Identifier(env["HARMONY_POSTGRES__ALERTS_TABLE"])
        cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))
    conn.commit()
    conn.close()


@contextlib.contextmanager
def bench_lake(name: str, keep: bool = False) -> Iterator[Lake]:
    """A benchmark's lake on the stack this process's settings reach, which point at it while it exists."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        private_lake(get_settings(), name, Path(tmp), prefix="bench", keep=keep) as lake,
    ):
        lake.use_here()
        yield lake
