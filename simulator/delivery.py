"""Deliver encoded reports to Kafka with an idempotent producer, counting every delivery report.

The producer is tuned for throughput on one machine: large linger batches and lz4 compression. When its
local queue is full it serves delivery callbacks and retries, so backpressure slows the simulator down
instead of losing reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from confluent_kafka import KafkaError, KafkaException, Message, Producer


class TopicUnavailable(RuntimeError):
    """The broker cannot be reached or the topic does not exist: nothing would be delivered."""


@dataclass
class DeliveryStats:
    produced: int = 0
    delivered: int = 0
    failed: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def pending(self) -> int:
        return self.produced - self.delivered - self.failed


class ReportProducer:
    def __init__(self, bootstrap_servers: str, topic: str, extra: dict[str, object] | None = None) -> None:
        self.topic = topic
        self.stats = DeliveryStats()
        config: dict[str, object] = {
            "bootstrap.servers": bootstrap_servers,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 25,
            "batch.size": 1_000_000,
            "batch.num.messages": 10_000,
            "compression.type": "lz4",
            "queue.buffering.max.messages": 500_000,
            "queue.buffering.max.kbytes": 1_048_576,
            "message.timeout.ms": 120_000,
        }
        config.update(extra or {})
        self._producer = Producer(config)
        # Connect and learn the topic's partitions before the first report: a report's timestamp is its
        # produce time, so the first ones should not wait for the connection; and a typo fails at once.
        try:
            metadata = self._producer.list_topics(topic, timeout=15)
        except KafkaException as exc:
            raise TopicUnavailable(f"cannot reach Kafka at {bootstrap_servers}: {exc.args[0].str()}") from exc
        error = metadata.topics[topic].error
        if error is not None:
            raise TopicUnavailable(f"topic {topic!r}: {error.str()} (`harmony stack up` creates the topics)")

    def _on_delivery(self, err: KafkaError | None, _msg: Message) -> None:
        if err is None:
            self.stats.delivered += 1
        else:
            self.stats.failed += 1
            name = err.name()
            self.stats.errors[name] = self.stats.errors.get(name, 0) + 1

    def send(self, keys: list[bytes], values: list[bytes]) -> None:
        """Queue reports; the Kafka timestamp is the produce time (the event time is in the payload)."""
        produce, topic, cb = self._producer.produce, self.topic, self._on_delivery
        for key, value in zip(keys, values, strict=True):
            while True:
                try:
                    produce(topic, value, key, on_delivery=cb)
                    break
                except BufferError:
                    self._producer.poll(0.05)
            self.stats.produced += 1
        self._producer.poll(0)

    def flush(self, timeout_s: float = 120.0) -> DeliveryStats:
        """Wait for every outstanding delivery report (or the timeout)."""
        self._producer.flush(timeout_s)
        return self.stats
