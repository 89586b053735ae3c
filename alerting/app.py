"""The alerting processor: a Quix Streams application in its own consumer group.

reports ─ decode ─ low-score citizens ─┬─ group by citizen ─ cool-down ──┬─ alerts topic (key: zone)
                                       └─ group by zone ─ riot window ───┴─ PostgreSQL, webhook, console

At-least-once with a short commit interval: alerts leave as soon as they are raised (no transaction
holding them back), and every sink is idempotent on the alert id instead. Rule state lives in Quix's
RocksDB stores with changelog topics, so a restarted process neither repeats nor misses an episode.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from confluent_kafka import Producer
from quixstreams import Application
from quixstreams.models import Row
from quixstreams.models.serializers import Serializer
from quixstreams.sinks.base import BaseSink
from quixstreams.state import State

from alerting.delivery import ConsoleSink, PostgresAlertSink, WebhookSink
from alerting.rules import CitizenRule, LowObservation, RiotRule, low_observations
from lakehouse.codec import ContractError, decode, encode
from lakehouse.dead_letters import envelope
from lakehouse.schemas import Alert, DroneReport
from lakehouse.settings import AlertingSettings, Settings

logger = logging.getLogger("harmony.alerting")
STATE_KEY = "rule"


@dataclass
class AlertingApp:
    app: Application
    sinks: list[BaseSink]
    counts: dict[str, int] = field(default_factory=lambda: {"alerts": 0, "dead_lettered": 0})


def _stateful(rule: CitizenRule | RiotRule, counts: dict[str, int]) -> Any:
    def step(obs: LowObservation, state: State[str, Any]) -> Alert | None:
        new_state, alert = rule.apply(state.get(STATE_KEY), obs, datetime.now(UTC))
        state.set(STATE_KEY, new_state)
        if alert is not None:
            counts["alerts"] += 1
        return alert

    return step


def build(
    settings: Settings,
    options: AlertingSettings | None = None,
    console: bool = True,
    state_dir: Path | None = None,
) -> AlertingApp:
    opts = options or settings.alerting
    rules = settings.rules
    dead_letters = Producer(
        {
            "bootstrap.servers": settings.kafka.bootstrap_servers,
            "enable.idempotence": True,
            "message.max.bytes": settings.kafka.max_message_bytes,
            "linger.ms": 5,
        }
    )
    counts = {"alerts": 0, "dead_lettered": 0}

    def on_processing_error(exc: Exception, row: Row | None, _logger: logging.Logger) -> bool:
        if not isinstance(exc, ContractError) or row is None:
            return False
        key, value, headers = envelope(
            exc, row.value, row.key, row.topic, row.partition, row.offset, "alerting",
            settings.kafka.max_message_bytes,
        )  # fmt: skip
        dead_letters.produce(settings.kafka.dead_letter_topic, value=value, key=key, headers=headers)
        dead_letters.poll(0)
        counts["dead_lettered"] += 1
        return True

    app = Application(
        broker_address=settings.kafka.bootstrap_servers,
        consumer_group=opts.consumer_group,
        auto_offset_reset="earliest",
        commit_interval=opts.commit_interval_s,
        processing_guarantee="at-least-once",
        state_dir=str(state_dir or settings.state_path / "alerting" / opts.consumer_group),
        use_changelog_topics=True,
        on_processing_error=on_processing_error,
        consumer_extra_config={"fetch.wait.max.ms": 5, "session.timeout.ms": 10_000},
        producer_extra_config={"linger.ms": 1},
        loglevel="WARNING",
    )
    reports = app.topic(settings.kafka.reports_topic, value_deserializer="bytes", key_deserializer="bytes")
    alerts_topic = app.topic(
        settings.kafka.alerts_topic, value_serializer=AlertSerializer(), key_serializer="str"
    )

    sinks: list[BaseSink] = [PostgresAlertSink(settings)]
    if opts.webhook_url:
        sinks.append(
            WebhookSink(
                opts.webhook_url,
                settings.state_path / "alerting" / f"{opts.consumer_group}-webhook-parked.jsonl",
                opts.webhook_timeout_s,
                opts.webhook_attempts,
                opts.webhook_retry_s,
            )
        )
    if console:
        sinks.append(ConsoleSink())

    sdf = app.dataframe(reports)
    lows = sdf.apply(lambda raw: decode(DroneReport, raw)).apply(
        lambda report: low_observations(report, rules.low_harmony_threshold), expand=True
    )
    branches = [
        lows.group_by(lambda o: o["citizen_id"], name="by-citizen").apply(
            _stateful(CitizenRule(rules), counts), stateful=True
        ),
        lows.group_by(lambda o: o["zone"], name="by-zone").apply(
            _stateful(RiotRule(rules), counts), stateful=True
        ),
    ]
    for branch in branches:
        raised = branch.filter(lambda alert: alert is not None)
        raised.to_topic(alerts_topic, key=lambda alert: alert.zone)
        for sink in sinks:
            raised.sink(sink)
    return AlertingApp(app, sinks, counts)


class AlertSerializer(Serializer):
    """Alerts leave in the contract's wire format (the same codec every reader decodes with)."""

    def __call__(self, value: Alert, ctx: Any) -> bytes:
        return encode(value)
