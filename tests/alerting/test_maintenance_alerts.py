"""Maintenance alerts: the rules worker scores the fleet lake's stream with the trained model and its
alerts reach PostgreSQL (the dashboard's live view) like every other alert."""

from __future__ import annotations

from datetime import datetime, timedelta

from lakehouse.catalog import load_catalog
from lakehouse.query import live_alerts
from lakehouse.schemas import AlertKind
from lakehouse.tables import latest_model_card
from simulator.episodes import read_ground_truth
from testkit.lakes import Lake


def test_maintenance_alerts_reach_postgres_ahead_of_failures(fleet_lake: Lake) -> None:
    settings = fleet_lake.settings
    card = latest_model_card(load_catalog(settings), settings)
    assert card is not None
    alerts = [
        a for a in live_alerts.recent(settings, limit=100_000) if a["kind"] == AlertKind.MAINTENANCE.value
    ]
    assert len(alerts) >= 20, "a five-week fleet with about 200 failures raises many"
    assert len({a["alert_id"] for a in alerts}) == len(alerts)
    for a in alerts:
        assert a["alert_id"].startswith(f"maintenance-{a['drone_id']}-")
        assert f"(model v{card.version})" in a["reason"] and a["citizens"] == []
    failures: dict[str, list[datetime]] = {}
    for e in read_ground_truth(fleet_lake.tmp / "truth.jsonl", "failure"):
        failures.setdefault(str(e["drone_id"]), []).append(datetime.fromisoformat(str(e["time"])))
    ahead = sum(
        any(
            a["event_time"] <= f <= a["event_time"] + timedelta(hours=48)
            for f in failures.get(a["drone_id"], [])
        )
        for a in alerts
    )
    assert ahead >= 0.5 * len(alerts), (
        f"only {ahead} of {len(alerts)} alerts came in the 48 h before a failure"
    )
