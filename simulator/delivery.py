"""Deliver encoded reports to Kafka with an idempotent producer, counting every delivery report.

The producer is tuned for throughput on one machine: large linger batches and lz4 compression. When its
local queue is full it serves delivery reports and retries, so backpressure slows the simulator down
instead of losing reports.

Deliveries are counted in bulk: librdkafka reports only the failed messages (``delivery.report.only.error``),
so a successful report costs no Python callback (the profile put ~4 µs per message in produce with a
callback); a report is delivered once it is neither failed nor still in the producer's queue, which
librdkafka counts until the broker has acknowledged it (``len(producer)``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from confluent_kafka import KafkaError, KafkaException, Message, Producer

MAX_QUEUED = 500_000  # reports queued locally before `send` waits for the broker
POLL_EVERY = 16  # batches sent between two polls for delivery failures


class TopicUnavailable(RuntimeError):
    """The broker cannot be reached or the topic does not exist: nothing would be delivered."""


@dataclass
class DeliveryStats:
    produced: int = 0
    failed: int = 0
    pending: int = 0  # queued or in flight: not yet acknowledged by the broker, nor failed
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def delivered(self) -> int:
        return self.produced - self.failed - self.pending


class ReportProducer:
    def __init__(
        self, client: Mapping[str, object], topic: str, extra: dict[str, object] | None = None
    ) -> None:
        self.topic = topic
        self.stats = DeliveryStats()
        self._sends = 0
        config: dict[str, object] = {
            **client,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 25,
            "batch.size": 1_000_000,
            "batch.num.messages": 10_000,
            "compression.type": "lz4",
            "queue.buffering.max.messages": MAX_QUEUED + 10_000,
            "queue.buffering.max.kbytes": 1_048_576,
            "message.timeout.ms": 120_000,
            "delivery.report.only.error": True,
            "on_delivery": self._on_failure,
        }
        config.update(extra or {})
        self._producer = Producer(config)
        # Connect and learn the topic's partitions before the first report: a report's timestamp is its
        # produce time, so the first ones should not wait for the connection; and a typo fails at once.
        try:
            metadata = self._producer.list_topics(topic, timeout=15)
        except KafkaException as exc:
            where = client.get("bootstrap.servers")
            raise TopicUnavailable(f"cannot reach Kafka at {where}: {exc.args[0].str()}") from exc
        error = metadata.topics[topic].error
        if error is not None:
            raise TopicUnavailable(f"topic {topic!r}: {error.str()} (`harmony stack up` creates the topics)")

    def _on_failure(self, err: KafkaError | None, _msg: Message | None) -> None:
        if err is not None:  # only failures are reported (delivery.report.only.error)
            self.stats.failed += 1
            name = err.name()
            self.stats.errors[name] = self.stats.errors.get(name, 0) + 1

    def send(self, keys: list[bytes], values: list[bytes]) -> None:
        """Queue reports; the Kafka timestamp is the produce time (the event time is in the payload).

        One ``produce`` call per report: with no per-message callback it costs ~1 µs of this thread, less
        than building the dicts ``produce_batch`` takes (~1.6 µs per report with them, measured here).
        Wait for room for the whole batch first, so no report is refused for a full queue (one refused
        would have to be sent again after those behind it: out of order for its drone).
        """
        while len(self._producer) + len(values) > MAX_QUEUED:
            self._producer.poll(0.05)
        produce, topic = self._producer.produce, self.topic
        for key, value in zip(keys, values, strict=True):
            try:
                produce(topic, value, key)
            except KafkaException as exc:  # refused at once (e.g. too large): failed, and counted as such
                self._on_failure(exc.args[0], None)
        self.stats.produced += len(values)
        self._sends += 1
        if self._sends % POLL_EVERY == 0:  # serve failures now and then: a poll per batch cost ~7%
            self._producer.poll(0)
        self.stats.pending = len(self._producer)

    def flush(self, timeout_s: float = 120.0) -> DeliveryStats:
        """Wait until every report is acknowledged or failed (or the timeout)."""
        self.stats.pending = self._producer.flush(timeout_s)
        return self.stats
