"""Fixtures for the simulator: small, fast worlds and a fresh topic on the real broker."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from lakehouse.settings import Settings
from simulator.config import SimulatorConfig


@pytest.fixture()
def small_config() -> SimulatorConfig:
    return SimulatorConfig(seed=7, drones=16, citizens=4000, report_interval_s=30.0)


@pytest.fixture()
def fresh_topic(stack: Settings) -> Iterator[str]:
    admin = AdminClient(stack.kafka.client())
    name = f"test-reports-{uuid.uuid4().hex[:8]}"
    admin.create_topics([NewTopic(name, num_partitions=3, replication_factor=1)])[name].result(15)
    yield name
    admin.delete_topics([name])[name].result(15)
