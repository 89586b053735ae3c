"""Crashes, rebalances and zombies neither lose nor duplicate a report in the lake."""

from __future__ import annotations

import random
import re
import signal
import time
from typing import Any

import orjson

from testkit.ingest_lane import Lane, assert_exact

COMMIT = '"event":"commit"'


def test_kill_minus_nine_five_times_while_producing(lane: Lane) -> None:
    """Each worker is killed at a random moment of a commit cycle after it has landed something (so the
    kills fall between commits on a slow machine too: a fixed 3.5-6 s let a worker still starting up be
    killed before its first commit)."""
    produced = 120_000
    sim = lane.simulate("--count", str(produced), "--rate", "4000")
    rng = random.Random(5)
    kills = mid_stream = 0
    worker = lane.worker("w")
    while sim.poll() is None or kills < 5:
        commits = lane.log("w").count(COMMIT)
        deadline = time.monotonic() + 90
        while lane.log("w").count(COMMIT) == commits:
            if sim.poll() is not None and lane.landed() >= produced:
                break  # nothing left for this worker to land
            assert worker.poll() is None, "the ingest worker exited by itself"
            assert time.monotonic() < deadline, "an ingest worker landed nothing in 90 s"
            time.sleep(0.2)
        time.sleep(rng.uniform(0.0, 1.5))  # the commit interval is 1 s
        mid_stream += lane.landed() < produced
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        kills += 1
        worker = lane.worker("w")
    assert sim.returncode == 0
    lane.wait_landed(produced)
    worker.terminate()
    worker.wait(30)
    assert kills >= 5
    assert mid_stream >= 3, f"only {mid_stream} of {kills} kills hit a worker with reports still to land"
    assert_exact(lane, produced)


def test_two_workers_and_a_rebalance_mid_run(lane: Lane) -> None:
    produced = 100_000
    a = lane.worker("a")
    sim = lane.simulate("--count", str(produced), "--rate", "8000")
    time.sleep(4)
    b = lane.worker("b")  # joins: partitions are split
    time.sleep(5)
    a.terminate()  # leaves gracefully: its partitions move to b
    a.wait(60)
    assert sim.wait(120) == 0
    lane.wait_landed(produced)
    b.terminate()
    b.wait(30)
    assert_exact(lane, produced)
    for name in ("a", "b"):
        assert COMMIT in lane.log(name), f"worker {name} landed nothing"


def commits(log: str) -> list[dict[str, Any]]:
    return [orjson.loads(m) for m in re.findall(r'(\{"event":"commit".*\})', log)]


def test_paused_zombie_does_not_land_its_stale_batch(lane: Lane) -> None:
    produced = 60_000
    # A holds its batch for a long time, so it is mid-batch when it is frozen.
    a = lane.worker("a", "--commit-interval", "30", "--max-rows", "10000000")
    sim = lane.simulate("--count", str(produced), "--rate", "10000")
    assert sim.wait(120) == 0
    time.sleep(3)
    a.send_signal(signal.SIGSTOP)  # frozen with a stale batch; the group evicts it after the session timeout
    b = lane.worker("b")
    lane.wait_landed(produced)  # b took over and landed everything
    landed_by_b = sum(int(c["rows"]) for c in commits(lane.log("b")) if c["table"].endswith(".reports"))
    a.send_signal(signal.SIGCONT)
    time.sleep(12)  # a wakes up, finds it lost its partitions, and must not commit its batch
    a.terminate()
    a.wait(60)
    b.terminate()
    b.wait(60)
    assert "lost partitions" in lane.log("a"), "the zombie should have noticed it was evicted"
    stale = [c for c in commits(lane.log("a")) if int(c["rows"]) > 0]
    assert stale == [], f"the zombie landed rows: {stale}"
    assert landed_by_b == produced
    assert_exact(lane, produced)
