"""A lake of its own for one benchmark: a reports topic, raw and answers namespaces and an ingest group
named after the benchmark, filled by the simulator and one ingest worker, removed afterwards."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from confluent_kafka.admin import AdminClient, NewTopic

from benchmarks.commands import HARMONY, simulate
from lakehouse.catalog import load_catalog
from lakehouse.settings import Settings, get_settings
from lakehouse.tables import purge_namespace


@dataclass(frozen=True)
class PrivateLake:
    env: dict[str, str]  # what the `harmony` subprocesses see
    settings: Settings  # the same, for this process

    def fill(self, *simulate_args: str) -> tuple[float, float]:
        """Backfill with ``simulate_args``, then one ingest worker until idle: (produce s, ingest s)."""
        t0 = time.monotonic()
        subprocess.run(simulate(*simulate_args), env=self.env, check=True, capture_output=True)
        produce_s = time.monotonic() - t0
        t0 = time.monotonic()
        subprocess.run([HARMONY, "ingest", "--timeout", "15"], env=self.env, check=True, capture_output=True)
        return produce_s, time.monotonic() - t0


@contextlib.contextmanager
def private_lake(name: str, keep: bool = False) -> Iterator[PrivateLake]:
    """The settings of this process point at the private lake while it exists (``keep``: left in place)."""
    token = uuid.uuid4().hex[:6]
    env = {
        **os.environ,
        "HARMONY_KAFKA__REPORTS_TOPIC": f"bench-{name}-{token}",
        "HARMONY_CATALOG__RAW_NAMESPACE": f"bench_{name}_raw_{token}",
        "HARMONY_CATALOG__ANSWERS_NAMESPACE": f"bench_{name}_answers_{token}",
        "HARMONY_INGEST__CONSUMER_GROUP": f"bench-{name}-{token}",
    }
    os.environ.update(env)
    get_settings.cache_clear()
    settings = get_settings()
    topic = settings.kafka.reports_topic
    admin = AdminClient(settings.kafka.client())
    admin.create_topics([NewTopic(topic, 4, 1)])[topic].result(15)
    try:
        yield PrivateLake(env, settings)
    finally:
        if keep:
            print("kept: " + " ".join(f"{k}={v}" for k, v in env.items() if k.startswith("HARMONY_")))
        else:
            admin.delete_topics([topic])[topic].result(15)
            catalog = load_catalog(settings)
            for ns in (settings.catalog.raw_namespace, settings.catalog.answers_namespace):
                purge_namespace(catalog, ns)
