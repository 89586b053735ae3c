"""The stack's Toxiproxy: a client routed through it stays behind it, so a toxic really cuts it off."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from lakehouse.settings import Settings
from testkit.network import Toxics


def _brokers(port: int) -> list[str]:
    admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{port}", "log_level": 2})
    return [f"{b.host}:{b.port}" for b in admin.list_topics(timeout=5).brokers.values()]


def test_the_broker_advertises_the_proxy_to_proxied_clients(stack: Settings) -> None:
    proxy = stack.toxiproxy
    assert _brokers(proxy.kafka_port) == [f"{proxy.host}:{proxy.kafka_port}"]
    assert _brokers(stack.kafka.port) == [stack.kafka.bootstrap_servers], "direct clients are unaffected"


def test_a_partition_stops_a_proxied_client_and_healing_restores_it(stack: Settings) -> None:
    toxics = Toxics(stack)
    try:
        with toxics.partition("kafka"):
            admin = AdminClient(
                {"bootstrap.servers": f"127.0.0.1:{stack.toxiproxy.kafka_port}", "log_level": 0}
            )
            with pytest.raises(KafkaException, match=r"(?i)timed out|transport"):
                admin.list_topics(timeout=3)
            assert _brokers(stack.kafka.port), "the broker itself is up"
        assert _brokers(stack.toxiproxy.kafka_port)
    finally:
        toxics.reset()
