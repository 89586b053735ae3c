"""The processors in containers, for real: `harmony images build`, then compose.yaml's processors profile
under podman-compose against the stack's servers, on a lane of their own (an override file adds the lane's
names to the processors' environment). Two ingest workers and two rules workers share their groups; one
ingest worker's process is killed -9 from the host, as a crash would: its restart policy brings it back and
the lake stays exact, and the riots of a seeded run are alerted once each."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from lakehouse.schemas import AlertKind
from stack.images import ROOT, podman_env
from testkit.alert_lane import AlertLane
from testkit.chaos import Fleet
from testkit.checker import check_lake, match

PODMAN_COMPOSE = str(Path(sys.executable).parent / "podman-compose")  # installed with the dev extras
WORKERS = ["ingest-1", "ingest-2", "ingest-alerts", "alerting-1", "alerting-2", "alert-delivery"]


class Compose:
    def __init__(self, lane: AlertLane) -> None:
        self.project = f"harmony-test-{lane.token}"
        self.override = lane.tmp / "lane.yaml"
        lane_env = {k: v for k, v in lane.env.items() if k.startswith("HARMONY_") and k not in os.environ}
        # The host's stack, not compose's SASL broker: PLAINTEXT on loopback (compose.yaml says so).
        lane_env["HARMONY_KAFKA__SECURITY_PROTOCOL"] = lane.settings.kafka.security_protocol
        self.override.write_text(
            yaml.safe_dump({"services": {w: {"environment": lane_env} for w in WORKERS}})
        )
        self.env = podman_env(lane.settings)

    def run(self, *args: str, timeout: float = 600) -> str:
        out = subprocess.run(
            [PODMAN_COMPOSE, "-p", self.project, "-f", str(ROOT / "compose.yaml"), "-f", str(self.override),
             "--profile", "processors", *args],
            cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
        assert out.returncode == 0, (
            f"podman-compose {' '.join(args)}:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}"
        )
        return out.stdout

    def podman(self, *args: str) -> str:
        out = subprocess.run(["podman", *args], env=self.env, capture_output=True, text=True, check=False)
        assert out.returncode == 0, out.stderr[-2000:]
        return out.stdout.strip()

    def container(self, service: str) -> str:
        return f"{self.project}_{service}_1"

    def pid(self, service: str) -> int:
        return int(self.podman("inspect", "--format", "{{.State.Pid}}", self.container(service)))


@pytest.fixture()
def compose(image: str, alert_lane: AlertLane) -> Iterator[Compose]:
    c = Compose(alert_lane)
    c.run("up", "-d", *WORKERS)
    yield c
    for w in WORKERS:
        (alert_lane.tmp / f"{w}.log").write_text(c.podman("logs", c.container(w)))
    c.run("down", "-t", "30")


def test_containerized_processors_land_every_report_once_and_survive_a_crash(
    compose: Compose, alert_lane: AlertLane
) -> None:
    lane = alert_lane
    sim = lane.simulate("--rate", "2000", "--count", "100000", "--riots-per-day", "1500", "--seed", "53")
    time.sleep(15)
    victim = compose.pid("ingest-1")
    os.kill(victim, signal.SIGKILL)  # the worker's process, from the host: a crash, not a stop
    deadline = time.monotonic() + 120
    while True:
        try:
            state = compose.podman("inspect", "--format", "{{.State.Status}} {{.State.Pid}} {{.RestartCount}}",
                                   compose.container("ingest-1"))  # fmt: skip
        except AssertionError as exc:  # podman 4.3 fails an inspect racing the dead process's cgroup
            state = f"inspect failed: {exc}"
        else:
            status, pid, restarts = state.split()
            if status == "running" and int(pid) not in (0, victim):
                break
        assert time.monotonic() < deadline, f"ingest-1 was not restarted by its policy: {state}"
        time.sleep(1)
    assert int(restarts) >= 1
    assert sim.wait(180) == 0
    fleet = Fleet(lane)  # only to read where the lake and the groups stand
    assert fleet.wait_settled(300) is not None, "the containers did not catch up"
    checked = check_lake(lane.settings, lane.reports, lane.table, f"test-ingest-{lane.token}")
    assert checked.reports == 100_000
    riots = [a for a in lane.topic_alerts() if a.kind == AlertKind.RIOT]
    found, _ = match(lane.truth(), riots)  # a flood of riots: unrest outside the episodes may riot too
    assert found and sum(1 for ids in found.values() if ids) / len(found) >= 0.95, found
    assert all(len(ids) <= 1 for ids in found.values()), found
    rows = {r[0] for r in lane.table_rows()}
    assert rows == {a.alert_id for a in lane.topic_alerts()}, "delivery (in its container) filled live_alerts"
    assert all(compose.pid(w) > 0 for w in WORKERS), "every worker still runs"
    # podman schedules health checks with systemd timers, which these machines lack: run each one now.
    for w in WORKERS:
        compose.podman("healthcheck", "run", compose.container(w))
