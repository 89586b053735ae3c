"""What both alerting workers do with a message that breaks the contract: dead-letter it, go on."""

from __future__ import annotations

import logging

from confluent_kafka import Producer
from quixstreams.models import Row

from lakehouse.codec import ContractError
from lakehouse.dead_letters import envelope, producer_config
from lakehouse.settings import Settings


class DeadLetters:
    """A Quix ``on_processing_error`` callback: contract errors go to the dead-letter topic with the
    reason and the original bytes; anything else is a bug and stops the worker."""

    def __init__(self, settings: Settings, source: str) -> None:
        self.settings = settings
        self.source = source
        self.count = 0
        self._producer = Producer(producer_config(settings))

    def __call__(self, exc: Exception, row: Row | None, _logger: logging.Logger) -> bool:
        if not isinstance(exc, ContractError) or row is None:
            return False
        key, value, headers = envelope(
            exc, row.value, row.key, row.topic, row.partition, row.offset, self.source,
            self.settings.kafka.max_message_bytes,
        )  # fmt: skip
        self._producer.produce(self.settings.kafka.dead_letter_topic, value=value, key=key, headers=headers)
        self._producer.poll(0)
        self.count += 1
        return True

    def flush(self, timeout_s: float = 30.0) -> None:
        self._producer.flush(timeout_s)
