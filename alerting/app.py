"""The rules worker: a Quix Streams application that turns reports into alerts on the alerts topic.

reports (key: drone) ─ decode ─ ReportStep (per drone, RocksDB state: failure risk; the report's
    low-score citizens and any maintenance alert, or nothing) ─ group by zone (one repartition)
    ─ ZoneStep (both zone rules, journal in RocksDB; passes the maintenance alerts on) ─ alerts topic

One chain without branches: Quix copies a value for every branch after the first (a pickle round
trip), which cost a flood more than the rules themselves; maintenance alerts, rare, ride along the
repartition to the one producing step. Nothing but Kafka sits on this path: people-facing sinks
(PostgreSQL, webhook, console) read the alerts topic in the delivery worker (`alerting.delivery`), so a
slow sink never delays an alert. At-least-once with a short commit interval: alerts leave as soon as
they are raised (no transaction holding them back) and carry the report's Kafka timestamp; a replay
after a crash re-creates the same alert ids, which every sink treats as the same alert. Rule state
lives in Quix's RocksDB store with a changelog topic, so a restarted worker neither repeats nor misses
an episode; each sighting writes only what it changed (``alerting.zone_state``), so a riot flood costs
per report what a quiet day does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypedDict, cast

from quixstreams import Application
from quixstreams.models.serializers import Serializer
from quixstreams.state import State

from alerting.bad_input import DeadLetters
from alerting.failure_scoring import DroneHealthStep, ModelSource, reading
from alerting.quix_app import application
from alerting.rules import Sighting, ZoneRules, sighting
from alerting.zone_state import ZoneStore
from lakehouse.codec import decode, encode
from lakehouse.schemas import Alert, DroneReport
from lakehouse.settings import AlertingSettings, Settings

ZONE_STEP = "zone-rules"  # names the repartition topic and the state store: change it, lose the state


class Carried(TypedDict):
    """What crosses to the zone's partition for one report: its sighting and the alerts raised upstream."""

    zone: str
    sighting: Sighting | None
    alerts: list[dict[str, Any]]  # maintenance alerts, in the contract's JSON form


class ReportStep:
    """The stateful step of one drone key: its failure risk, then what the zone needs of the report."""

    def __init__(self, health: DroneHealthStep, threshold: float) -> None:
        self.health = health
        self.threshold = threshold

    def __call__(self, report: DroneReport, state: State[str, Any]) -> Carried | None:
        raised = self.health(reading(report), state)
        found = sighting(report, self.threshold)
        if found is None and not raised:
            return None
        return Carried(zone=report.zone, sighting=found, alerts=[a.model_dump(mode="json") for a in raised])


class ZoneStep:
    """The stateful step of one zone key: both rules over the zone's state, counting what they raise."""

    def __init__(self, rules: ZoneRules) -> None:
        self.store = ZoneStore(rules)
        self.raised = 0

    def __call__(self, carried: Carried | Sighting, state: State[str, Any]) -> list[Alert]:
        if "lows" in carried:  # a bare sighting, repartitioned by the version before Carried
            c = Carried(zone=carried["zone"], sighting=cast(Sighting, carried), alerts=[])
        else:
            c = carried
        alerts = [Alert.model_validate(a) for a in c["alerts"]]
        if c["sighting"] is not None:
            raised = self.store.apply(state, c["sighting"], datetime.now(UTC))
            self.raised += len(raised)
            alerts += raised
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
    carried = (
        source.apply(lambda raw: decode(DroneReport, raw))
        .apply(ReportStep(health, threshold), stateful=True)
        .filter(lambda c: c is not None)
    )
    alerts = carried.group_by(lambda c: c["zone"], name=ZONE_STEP).apply(step, stateful=True, expand=True)
    alerts.to_topic(alerts_topic, key=lambda alert: alert.zone)
    return RulesApp(app, step, health, dead_letters, models)


class AlertSerializer(Serializer):
    """Alerts leave in the contract's wire format (the same codec every reader decodes with)."""

    def __call__(self, value: Alert, ctx: Any) -> bytes:
        return encode(value)
