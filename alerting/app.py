"""The rules worker: a Quix Streams application that turns reports into alerts on the alerts topic.

reports (key: drone; in runs of one partition's messages) ─ ReportStep (decode each report; per drone,
    RocksDB state: failure risk; the run's low-score citizens and maintenance alerts, one item per zone)
    ─ group by zone (one repartition: a message per zone and run, not per report) ─ ZoneStep (both zone
    rules over the zone's sightings, journal in RocksDB; passes the maintenance alerts on) ─ alerts topic

Quix hands the reports over a run at a time (``lakehouse.streaming.runs``): what librdkafka holds of one
partition, in offset order, so a quiet stream gives runs of one report and a flood or a backlog long
ones. Quix's own cost is then paid per run, not per report, and a zone's sightings of a run cross the
repartition as one message (a riot flood used to send nine reports in ten across it one by one, which
cost more than the rules). The runs keep librdkafka's order exactly, so the zone rules see the
partitions interleaved as they did. One chain without branches: Quix copies a value for every branch
after the first. Nothing but Kafka sits on this path: people-facing sinks (PostgreSQL, webhook,
console) read the alerts topic in the delivery worker (`alerting.delivery`), so a slow sink never
delays an alert. At-least-once with a short commit interval: alerts leave as soon as they are raised
(no transaction holding them back); a replay after a crash re-creates the same alert ids, which every
sink treats as the same alert. Rule state lives in Quix's RocksDB store with a changelog topic, so a
restarted worker neither repeats nor misses an episode; each zone message writes only what it changed
(``alerting.zone_state``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypedDict, cast

from pydantic import ValidationError
from quixstreams import Application
from quixstreams.models.serializers import Serializer
from quixstreams.state import State

from alerting.bad_input import DeadLetters
from alerting.failure_scoring import DroneHealthStep, ModelSource, reading
from alerting.quix_app import application
from alerting.rules import Sighting, ZoneRules, sighting
from alerting.zone_state import ZoneStore
from lakehouse.codec import ContractError, encode
from lakehouse.fast_codec import decode_fast
from lakehouse.schemas import Alert, DroneReport
from lakehouse.settings import AlertingSettings, Settings
from lakehouse.streaming.runs import MessageRun
from lakehouse.terminal import first_line

ZONE_STEP = "zone-rules"  # names the repartition topic and the state store: change it, lose the state


class Carried(TypedDict):
    """What crosses to the zone's partition from one run: its sightings and the alerts raised upstream."""

    zone: str
    sightings: list[Sighting]  # in the run's order
    alerts: list[dict[str, Any]]  # maintenance alerts, in the contract's JSON form


class ReportStep:
    """The stateful step of one run of a partition's reports: decode, failure risk per drone, then what
    each zone needs of the run."""

    def __init__(self, health: DroneHealthStep, threshold: float, dead_letters: DeadLetters) -> None:
        self.health = health
        self.threshold = threshold
        self.dead_letters = dead_letters

    def __call__(self, run: MessageRun, state: State[str, Any]) -> list[Carried]:
        reports = []
        for index, raw in enumerate(run.values):
            try:
                reports.append(decode_fast(DroneReport, raw))  # msgspec, pydantic for what it refuses
            except ContractError as exc:
                self.dead_letters.reject(run, index, exc)
        raised = self.health([reading(r) for r in reports], state)
        zones: dict[str, Carried] = {}
        for report in reports:
            found = sighting(report, self.threshold)
            if found is not None:
                _carried(zones, report.zone)["sightings"].append(found)
        for alert in raised:
            _carried(zones, alert.zone)["alerts"].append(alert.model_dump(mode="json"))
        return list(zones.values())


def _carried(zones: dict[str, Carried], zone: str) -> Carried:
    c = zones.get(zone)
    if c is None:
        c = zones[zone] = Carried(zone=zone, sightings=[], alerts=[])
    return c


def _as_carried(value: dict[str, Any]) -> Carried:
    """A repartitioned value of this version or of the two before it (one report's sighting and alerts;
    a bare sighting), still in the topic after an upgrade."""
    if "sightings" in value:
        return cast(Carried, value)
    if "lows" in value:
        return Carried(zone=value["zone"], sightings=[cast(Sighting, value)], alerts=[])
    one = value.get("sighting")
    return Carried(zone=value["zone"], sightings=[one] if one else [], alerts=value.get("alerts", []))


def _checked(value: Any) -> tuple[Carried, list[Alert]]:
    """A repartition message as the zone step reads it, or ``ContractError`` (dead-lettered): the topic
    is Kafka's, so whoever can write to it can write anything, and nothing it holds may stop the worker.

    Only the frame is checked here (a full conversion of every sighting cost ~5 µs each, a fifth of a
    flood's budget); a sighting no report could make fails in the rules, before anything is stored
    (``ZoneStep``), and is dead-lettered there."""
    try:
        carried = _as_carried(value)
        if not isinstance(carried["zone"], str) or not isinstance(carried["sightings"], list):
            raise TypeError("zone must be text and sightings a list")
        alerts = [Alert.model_validate(a) for a in carried["alerts"]]
    except (ValidationError, KeyError, TypeError, AttributeError) as exc:
        first = first_line(exc)
        raise ContractError("zone message", "$", f"not a zone message of this version ({first})") from exc
    return carried, alerts


class ZoneStep:
    """The stateful step of one zone key: both rules over the zone's sightings, counting what they raise."""

    def __init__(self, rules: ZoneRules) -> None:
        self.store = ZoneStore(rules)
        self.raised = 0

    def __call__(self, value: dict[str, Any], state: State[str, Any]) -> list[Alert]:
        c, alerts = _checked(value)
        if c["sightings"]:
            try:
                raised = self.store.apply_many(state, c["sightings"], datetime.now(UTC))
            except (ValidationError, ValueError, OverflowError, TypeError, KeyError) as exc:
                # A sighting no report could have made (text, lengths, a time out of range): written to
                # the topic by someone else. Nothing was stored (the store writes after the rules ran,
                # and its view is rebuilt), and the message is dead-lettered.
                first = first_line(exc, 300)
                raise ContractError(
                    "zone message", "sightings", f"not a report's sighting ({first})"
                ) from exc
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

    app = application(
        settings, opts.consumer_group, opts.commit_interval_s, dead_letters, state_dir,
        run_topics=frozenset({settings.kafka.reports_topic}),
    )  # fmt: skip
    reports = app.topic(settings.kafka.reports_topic, value_deserializer="bytes", key_deserializer="bytes")
    alerts_topic = app.topic(
        settings.kafka.alerts_topic, value_serializer=AlertSerializer(), key_serializer="str"
    )
    source = app.dataframe(reports)
    dead_letters.guard(source)
    carried = source.apply(ReportStep(health, threshold, dead_letters), stateful=True, expand=True)
    alerts = carried.group_by(lambda c: c["zone"], name=ZONE_STEP).apply(step, stateful=True, expand=True)
    alerts.to_topic(alerts_topic, key=lambda alert: alert.zone)
    return RulesApp(app, step, health, dead_letters, models)


class AlertSerializer(Serializer):
    """Alerts leave in the contract's wire format (the same codec every reader decodes with)."""

    def __call__(self, value: Alert, ctx: Any) -> bytes:
        return encode(value)
