"""The rules worker: a Quix Streams application that turns reports into alerts on the alerts topic.

reports (key: drone) ─ decode ┬ sighting (the report's low-score citizens; none: dropped)
                              │   ─ group by zone (one repartition) ─ ZoneRules, journal in RocksDB ┐
                              └ DroneHealthStep (per drone, RocksDB state: failure risk) ───────────┴
                                  ─ alerts topic (key: zone)

Nothing but Kafka sits on this path: people-facing sinks (PostgreSQL, webhook, console) read the
alerts topic in the delivery worker (`alerting.delivery`), so a slow sink never delays an alert.
At-least-once with a short commit interval: alerts leave as soon as they are raised (no transaction
holding them back) and carry the report's Kafka timestamp; a replay after a crash re-creates the
same alert ids, which every sink treats as the same alert. Rule state lives in Quix's RocksDB store
with a changelog topic, so a restarted worker neither repeats nor misses an episode; each sighting
writes only what it changed (``alerting.zone_state``), so a riot flood costs what a quiet day does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from quixstreams import Application
from quixstreams.models.serializers import Serializer
from quixstreams.state import State

from alerting.bad_input import DeadLetters
from alerting.failure_scoring import DroneHealthStep, ModelSource, Reading, reading
from alerting.quix_app import application
from alerting.rules import Sighting, ZoneRules, sighting
from alerting.zone_state import ZoneStore
from lakehouse.codec import decode, encode
from lakehouse.schemas import Alert, DroneReport
from lakehouse.settings import AlertingSettings, Settings

ZONE_STEP = "zone-rules"  # names the repartition topic and the state store: change it, lose the state


class ZoneStep:
    """The stateful step of one zone key: both rules over the zone's state, counting what they raise."""

    def __init__(self, rules: ZoneRules) -> None:
        self.store = ZoneStore(rules)
        self.raised = 0

    def __call__(self, s: Sighting, state: State[str, Any]) -> list[Alert]:
        alerts = self.store.apply(state, s, datetime.now(UTC))
        self.raised += len(alerts)
        return alerts


@dataclass(frozen=True)
class RulesApp:
    app: Application
    step: ZoneStep
    health: DroneHealthStep
    dead_letters: DeadLetters
    models: ModelSource

    @property
    def raised(self) -> int:
        """Alerts raised by this app: both zone rules and the drones' failure risk."""
        return self.step.raised + self.health.raised


def build(
    settings: Settings, options: AlertingSettings | None = None, state_dir: Path | None = None
) -> RulesApp:
    opts = options or settings.alerting
    threshold = settings.rules.low_harmony_threshold
    models = ModelSource(settings)
    models.wait_loaded(10.0)  # score from the first report when the lake answers at once; else later
    step, health = ZoneStep(ZoneRules(settings.rules)), DroneHealthStep(models)
    dead_letters = DeadLetters(settings, "alerting")

    app = application(settings, opts.consumer_group, opts.commit_interval_s, dead_letters, state_dir)
    reports = app.topic(settings.kafka.reports_topic, value_deserializer="bytes", key_deserializer="bytes")
    alerts_topic = app.topic(
        settings.kafka.alerts_topic, value_serializer=AlertSerializer(), key_serializer="str"
    )
    source = app.dataframe(reports)
    dead_letters.guard(source)
    # One decode, two small values: Quix copies a value for every branch after the first (a pickle
    # round trip), so the branches share a pair of small dicts, not the decoded report.
    decoded = source.apply(lambda raw: _split(decode(DroneReport, raw), threshold))
    sightings = decoded.apply(lambda pair: pair[0]).filter(lambda s: s is not None)
    alerts = sightings.group_by(lambda s: s["zone"], name=ZONE_STEP).apply(step, stateful=True, expand=True)
    alerts.to_topic(alerts_topic, key=lambda alert: alert.zone)
    maintenance = decoded.apply(lambda pair: pair[1]).apply(health, stateful=True, expand=True)
    maintenance.to_topic(alerts_topic, key=lambda alert: alert.zone)
    return RulesApp(app, step, health, dead_letters, models)


def _split(report: DroneReport, threshold: float) -> tuple[Sighting | None, Reading]:
    return sighting(report, threshold), reading(report)


class AlertSerializer(Serializer):
    """Alerts leave in the contract's wire format (the same codec every reader decodes with)."""

    def __call__(self, value: Alert, ctx: Any) -> bytes:
        return encode(value)
