"""The delivery worker: a Quix Streams application that hands the alerts topic to people.

alerts topic (key: zone) ─ decode ─┬─ PostgreSQL live view (upsert by alert id)
                                   ├─ webhook (POST JSON, retried, parked on disk while it is down)
                                   └─ console (one escaped line per alert)

It has its own consumer group (``<rules group>-delivery``), so it scales and fails on its own: the
rules worker never waits for a sink, and a sink that falls behind only lags this group. Delivery is
at-least-once and every sink is idempotent on the alert id, so a replay repeats nothing a person sees.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from quixstreams import Application
from quixstreams.sinks.base import BaseSink, SinkBackpressureError

from alerting.bad_input import DeadLetters
from alerting.parking import ParkingSink
from alerting.quix_app import application
from alerting.sinks import ConsoleSink, PostgresAlertSink, WebhookSink
from lakehouse.codec import decode
from lakehouse.schemas import Alert
from lakehouse.settings import AlertingSettings, Settings


@dataclass(frozen=True)
class DeliveryApp:
    app: Application
    sinks: list[BaseSink]
    dead_letters: DeadLetters

    def close(self) -> None:
        """Park what the sinks have not delivered yet and stop their threads."""
        for sink in self.sinks:
            if isinstance(sink, ParkingSink):
                with contextlib.suppress(SinkBackpressureError):  # over the limit: stays on the topic
                    sink.flush()
                sink.close()
        self.dead_letters.flush()


def spool(settings: Settings, opts: AlertingSettings, sink: str) -> Path:
    """Where a sink of this delivery group parks alerts while its server is away."""
    return settings.state_path / "alerting" / f"{opts.delivery_group}-{sink}-parked.jsonl"


def build(
    settings: Settings,
    options: AlertingSettings | None = None,
    console: bool = True,
    riots_only: bool = False,
    state_dir: Path | None = None,
) -> DeliveryApp:
    opts = options or settings.alerting
    dead_letters = DeadLetters(settings, "alert-delivery")

    def dead_letter(letters: list[tuple[bytes, str]]) -> None:
        # Before the alerts leave a sink's spool (from its delivery thread, or at a checkpoint past the
        # parking limit): acknowledged, or this raises and they stay parked, to be re-sent.
        for body, reason in letters:
            dead_letters.send(body, reason, settings.kafka.alerts_topic)
        dead_letters.flush()

    postgres = PostgresAlertSink(
        settings,
        spool(settings, opts, "postgres"),
        opts.parking_limit,
        opts.postgres_retry_s,
        dead_letter=dead_letter,
    )
    postgres.prepare()  # the live alerts table exists from the start, not from the first alert
    sinks: list[BaseSink] = [postgres]
    if opts.webhook_url:
        sinks.append(
            WebhookSink(
                opts.webhook_url,
                spool(settings, opts, "webhook"),
                opts.webhook_timeout_s,
                opts.webhook_attempts,
                opts.webhook_retry_s,
                opts.parking_limit,
                dead_letter=dead_letter,
            )
        )
    if console:
        sinks.append(ConsoleSink(riots_only=riots_only))
    app = application(settings, opts.delivery_group, opts.delivery_commit_interval_s, dead_letters, state_dir)
    # Keys as bytes: the alerts topic is Kafka's, and a key that is not UTF-8 must not stop delivery.
    topic = app.topic(settings.kafka.alerts_topic, value_deserializer="bytes", key_deserializer="bytes")
    source = app.dataframe(topic)
    dead_letters.guard(source)
    alerts = source.apply(lambda raw: decode(Alert, raw))
    for sink in sinks:
        alerts.sink(sink)
    return DeliveryApp(app, sinks, dead_letters)
