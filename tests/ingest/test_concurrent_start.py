"""Workers started at the same instant on a new lake all run: creating namespaces and tables is race-safe."""

from __future__ import annotations

import dataclasses
import time

from lakehouse.catalog import load_catalog
from lakehouse.tables import purge_namespace
from testkit.ingest_lane import Lane, assert_exact


def test_four_workers_started_at_once_on_a_new_namespace(lane: Lane) -> None:
    produced = 0
    catalog = load_catalog(lane.settings)
    for attempt in range(3):
        run = dataclasses.replace(
            lane, namespace=f"{lane.namespace}_{attempt}", group=f"{lane.group}-{attempt}"
        )
        workers = [run.worker(f"w{attempt}-{i}") for i in range(4)]  # no waiting in between
        if attempt == 0:
            assert run.simulate("--count", "8000", "--rate", "20000").wait(120) == 0
            produced = 8_000
        run.wait_landed(produced)
        time.sleep(2)
        for i, w in enumerate(workers):
            assert w.poll() is None, f"worker {i} exited at start:\n{run.log(f'w{attempt}-{i}')[-2000:]}"
        for w in workers:
            w.terminate()
        for i, w in enumerate(workers):
            assert w.wait(60) == 0
            assert "Traceback" not in run.log(f"w{attempt}-{i}")
        assert_exact(run, produced)
        purge_namespace(catalog, run.namespace)
