"""Network faults between one ingest worker and the servers it uses, through the stack's Toxiproxy: a
partition from each server, 300 ms of added latency to all of them, and the reply to a catalog swap lost
(the outcome-unknown commit). Other clients (the simulator, the checker) reach the servers directly."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lakehouse.catalog import load_catalog
from testkit.faults import PRODUCED, RATE, finish
from testkit.ingest_lane import Lane
from testkit.network import SERVERS, Toxics, proxied_env


@pytest.fixture()
def toxics(lane: Lane) -> Iterator[Toxics]:
    toxics = Toxics(lane.settings)
    yield toxics
    toxics.reset()


@pytest.mark.parametrize("server", SERVERS)
def test_a_worker_partitioned_from_a_server_for_15_s(lane: Lane, toxics: Toxics, server: str) -> None:
    """Nothing passes between the worker and ``server`` for 15 s (longer than the group's session): the
    worker rides it out and, healed, the lake is the topic exactly."""
    worker = lane.worker("w", env=proxied_env(lane.settings))
    sim = lane.simulate("--count", str(PRODUCED), "--rate", RATE, "--seed", "31")
    time.sleep(4)
    with toxics.partition(server):
        time.sleep(15)
    assert sim.wait(120) == 0
    finish(lane, "w", worker)


def test_300_ms_of_latency_to_every_server(lane: Lane, toxics: Toxics) -> None:
    with toxics.latency(300):
        worker = lane.worker("w", env=proxied_env(lane.settings))
        sim = lane.simulate("--count", str(PRODUCED), "--rate", RATE, "--seed", "37")
        assert sim.wait(120) == 0
        finish(lane, "w", worker)


def test_the_reply_to_a_catalog_swap_is_lost(lane: Lane, toxics: Toxics) -> None:
    """PostgreSQL commits the swap; the worker's connection dies before the reply (outcome unknown). The
    worker must learn from the table that its commit landed, not land the batch again."""
    record = lane.tmp / "swapped_to.txt"
    env = {
        **proxied_env(lane.settings),
        "PYTHONPATH": str(Path(__file__).parent / "reply_lost"),
        "HARMONY_TEST_REPLY_LOST_AT": "4",  # mid-stream: the 4th catalog swap (two tables per batch)
        "HARMONY_TEST_REPLY_LOST_PROXY": f"{lane.settings.toxiproxy.url}/proxies/postgres",
        "HARMONY_TEST_REPLY_LOST_RECORD": str(record),
    }
    worker = lane.worker("w", env=env)
    sim = lane.simulate("--count", str(PRODUCED), "--rate", RATE, "--seed", "41")
    assert sim.wait(120) == 0
    finish(lane, "w", worker)
    assert record.exists(), "the reply to a swap was never lost (the hook did not fire)"
    assert "a server is unreachable or failing" in lane.log("w"), "the worker saw the connection die"
    swapped_to = record.read_text()
    catalog = load_catalog(lane.settings)
    tables = [catalog.load_table(f"{lane.namespace}.{name}") for name in ("reports", "citizen_observations")]
    landed = [t.metadata_location for t in tables] + [
        e.metadata_file for t in tables for e in t.metadata.metadata_log
    ]
    assert swapped_to in landed, "PostgreSQL committed the swap whose reply was lost"
