"""Random kill -9s of ingest and alerting workers, two workers per group (every kill is a rebalance),
while the simulator produces with riots; then the whole checker, alerts included."""

from __future__ import annotations

import random
import time

from testkit.alert_lane import AlertLane
from testkit.chaos import Fleet, tally_alerts
from testkit.checker import check_lake, no_tracebacks

RATE, SECONDS = 2000, 90


def test_random_kills_of_ingest_and_alerting_workers(alert_lane: AlertLane) -> None:
    lane, rng = alert_lane, random.Random(47)
    fleet = Fleet(lane)
    fleet.start()
    sim = lane.simulate(
        "--rate", str(RATE), "--count", str(RATE * SECONDS), "--riots-per-day", "1500", "--seed", "47"
    )  # fmt: skip
    kills = []
    try:
        time.sleep(8)
        while sim.poll() is None:
            kind = rng.choice(["ingest", "alerting", "commit_step"])
            kills.append(fleet.kill_at_commit_step(rng) if kind == "commit_step" else fleet.kill(rng, kind))
            time.sleep(rng.uniform(3, 7))
        assert sim.wait() == 0
        recovered = fleet.wait_settled(240)
        assert recovered is not None, "the lake and the rules did not catch up within 240 s"
    finally:
        codes = fleet.stop()
    assert len(kills) >= 10, kills
    assert not fleet.unexpected, [f"{e.worker} exited {e.code}:\n{e.log_tail}" for e in fleet.unexpected]
    assert all(code == 0 for code in codes.values()), codes
    for log in fleet.logs().values():
        no_tracebacks(log)
    checked = check_lake(lane.settings, lane.reports, lane.table, f"test-ingest-{lane.token}")
    assert checked.reports == RATE * SECONDS
    alerts = tally_alerts(lane)
    assert alerts.alerted_clean >= 5, "the run had riots to find"
    assert not alerts.lost, (
        f"episodes the fault-free replay alerted and the faulted run did not: {alerts.lost}"
    )
    assert not alerts.duplicated, f"episodes alerted under two ids: {alerts.duplicated}"
    assert not alerts.sink_errors, alerts.sink_errors
