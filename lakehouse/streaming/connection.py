"""The broker connection every Quix Streams application of the product opens: the same address and
credentials as every plain librdkafka client (:meth:`lakehouse.settings.KafkaSettings.client`)."""

from __future__ import annotations

from quixstreams.kafka.configuration import ConnectionConfig

from lakehouse.settings import Settings


def connection(settings: Settings) -> ConnectionConfig:
    return ConnectionConfig.from_librdkafka_dict(settings.kafka.client())
