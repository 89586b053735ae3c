"""Faults while the simulator produces at a steady rate; after each, the checker compares the lake with the
source topic read back (``checker.check_lake``). The CI profile: each fault once, fixed seeds."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from lakehouse.schemas import AlertKind
from stack.services.kafka import Kafka
from stack.services.minio import MinIO
from testkit.alert_lane import AlertLane
from testkit.checker import match, no_tracebacks
from testkit.commands import HARMONY
from testkit.faults import PRODUCED, RATE, finish, stop_and_restart
from testkit.ingest_lane import Lane

# The commit protocol's steps (ingest/writer.py, ingest/sink.py), in order.
STEPS = [
    "ingest.before_data_files",
    "ingest.after_data_files",
    "ingest.after_metadata_file",
    "ingest.after_catalog_swap",
    "ingest.before_kafka_commit",
]


@pytest.mark.parametrize("step", STEPS)
def test_a_worker_killed_at_each_step_of_the_commit_protocol(lane: Lane, step: str) -> None:
    """kill -9 at the step (on its third pass, mid-stream), then a fresh worker: nothing lost or twice."""
    sim = lane.simulate("--count", str(PRODUCED), "--rate", RATE, "--seed", "13")
    doomed = lane.worker("doomed", env={"HARMONY_FAILPOINTS": f"{step}@3"})
    assert doomed.wait(120) == -signal.SIGKILL, f"{step} never fired:\n{lane.log('doomed')[-2000:]}"
    worker = lane.worker("w")
    assert sim.wait(120) == 0
    finish(lane, "w", worker)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "kill-9"])
def test_the_broker_stopped_and_restarted_mid_stream(lane: Lane, sig: signal.Signals) -> None:
    worker = lane.worker("w")
    sim = lane.simulate("--count", str(PRODUCED), "--rate", RATE, "--seed", "17")
    time.sleep(4)
    stop_and_restart(lane.settings, Kafka, sig, down_s=5)
    assert sim.wait(180) == 0, "the simulator rides out the broker's restart too"
    finish(lane, "w", worker)


def test_minio_frozen_for_15_s_mid_upload(lane: Lane) -> None:
    worker = lane.worker("w")
    sim = lane.simulate("--count", str(PRODUCED), "--rate", RATE, "--seed", "19")
    time.sleep(4)
    pid = MinIO(lane.settings).running_pid()
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(15)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert sim.wait(120) == 0
    finish(lane, "w", worker)


def test_alerting_rides_out_a_broker_restart_and_alerts_each_riot_once(alert_lane: AlertLane) -> None:
    """Rules and delivery running, riots in the stream, the broker killed (-9) and restarted: the processes
    stay up with no traceback, no riot episode gets two alert ids, and `live_alerts` holds exactly the
    alerts on the topic, once each."""
    proc = alert_lane.alerting()
    sim = alert_lane.simulate("--rate", "2000", "--count", "40000", "--riots-per-day", "2000", "--seed", "23")
    time.sleep(7)
    stop_and_restart(alert_lane.settings, Kafka, signal.SIGKILL, down_s=5)
    assert sim.wait(180) == 0
    alert_lane.wait_caught_up()
    assert proc.poll() is None, (
        f"harmony alert stopped when the broker restarted:\n{alert_lane.log()[-3000:]}"
    )
    proc.send_signal(signal.SIGINT)
    assert proc.wait(120) == 0, alert_lane.log()[-3000:]
    no_tracebacks(alert_lane.log())
    alerts = alert_lane.topic_alerts()
    riots = [a for a in alerts if a.kind == AlertKind.RIOT]
    assert riots, "riots were alerted"
    found, _stray = match(alert_lane.truth(), riots)
    twice = {episode: ids for episode, ids in found.items() if len(ids) > 1}
    assert not twice, f"episodes alerted under two ids: {twice}"
    rows = alert_lane.table_rows()
    assert len(rows) == len({r[0] for r in rows}), "one row per alert"
    assert {r[0] for r in rows} == {a.alert_id for a in alerts}, "every alert on the topic is in live_alerts"


def test_lake_maintenance_running_while_ingest_commits(lane: Lane) -> None:
    """`harmony lake maintain` (compaction, expiry, orphan removal, manifest rewrite on Spark) commits on
    the same tables while the worker appends: each side retries on the other's commit, nothing is lost."""
    produced = 400_000  # 160 s of stream: Spark's start and the maintenance (70-90 s in CI) fit inside it
    worker = lane.worker("w")
    sim = lane.simulate("--count", str(produced), "--rate", "2500", "--seed", "29")
    time.sleep(6)
    maintain = subprocess.run(
        [HARMONY, "lake", "maintain", "--master", "local[2]"],
        env={**lane.env, "COLUMNS": "200"},  # rich wraps at 80 columns in a pipe: Java frames unrecognisable
        capture_output=True,
        timeout=600,
        check=False,
    )
    (lane.tmp / "maintain.log").write_bytes(maintain.stdout + maintain.stderr)
    assert maintain.returncode == 0, _spark_error(maintain.stdout + maintain.stderr)
    assert sim.poll() is None, "maintenance overlapped the stream (produce for longer otherwise)"
    assert sim.wait(180) == 0
    finish(lane, "w", worker, produced)


def _spark_error(output: bytes) -> str:
    """The lines of a Spark failure that say why (its Java stack frames left out)."""
    lines = [
        line for line in output.decode(errors="replace").splitlines() if not line.strip().startswith("at ")
    ]
    return "\n".join(lines[-60:])
