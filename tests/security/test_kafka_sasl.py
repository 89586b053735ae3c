"""Kafka with SASL/SCRAM, as compose and k8s run it: a second broker of the same install, started by the
stack's own Kafka service with ``security_protocol=SASL_PLAINTEXT``.

A client without credentials, or with a wrong password, gets nothing; the product's clients (the
simulator's CLI, a Quix Streams application, the dead-letter producer) work with the settings' own; the
dashboard's identity may read the lag and the alerting members and nothing else.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient
from pydantic import SecretStr
from quixstreams import Application

from dashboard import lake
from lakehouse.settings import ENV_NESTED_DELIMITER, ENV_PREFIX, Settings
from lakehouse.streaming.connection import connection
from stack.services import Kafka
from testkit.commands import HARMONY

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def sasl(stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    kafka = stack.kafka.model_validate(
        {
            **stack.kafka.model_dump(),
            "port": free_port(),
            "controller_port": free_port(),
            "proxied_port": free_port(),
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_password": SecretStr(secrets.token_urlsafe(18)),
            "reader_password": SecretStr(secrets.token_urlsafe(18)),
        }
    )
    settings = stack.model_copy(
        update={"state_dir": tmp_path_factory.mktemp("sasl") / "state", "kafka": kafka}
    )
    broker = Kafka(settings)
    broker.prepare()
    broker.start()
    try:
        broker.wait_healthy(timeout_s=120)
        broker.provision()
        yield settings
    finally:
        broker.stop()


def env_of(settings: Settings) -> dict[str, str]:
    """The environment that gives a `harmony` subprocess this broker and its credentials."""
    k = settings.kafka

    def var(name: str) -> str:
        return f"{ENV_PREFIX}KAFKA{ENV_NESTED_DELIMITER}{name.upper()}"

    return {
        **os.environ,
        var("port"): str(k.port),
        var("controller_port"): str(k.controller_port),
        var("proxied_port"): str(k.proxied_port),
        var("security_protocol"): k.security_protocol,
        var("sasl_password"): k.sasl_password.get_secret_value(),
        var("reader_password"): k.reader_password.get_secret_value(),
        f"{ENV_PREFIX}STATE_DIR": str(settings.state_dir),
    }


def test_the_broker_files_that_hold_its_password_are_private(sasl: Settings) -> None:
    home = Path(sasl.state_path) / "kafka"
    config = home / "server.properties"
    assert sasl.kafka.sasl_password.get_secret_value() in config.read_text()
    assert config.stat().st_mode & 0o077 == 0
    assert not (home / "format.args").exists(), "the format's argument file outlived the format"


def test_a_client_without_credentials_is_refused(sasl: Settings) -> None:
    admin = AdminClient({"bootstrap.servers": sasl.kafka.bootstrap_servers, "log_level": 0})
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=5)


def test_a_wrong_password_is_refused(sasl: Settings) -> None:
    config = sasl.kafka.client({"sasl.password": "not-the-password", "log_level": 0})
    with pytest.raises(KafkaException):
        AdminClient(config).list_topics(timeout=5)


def test_the_products_clients_work_with_the_settings_credentials(sasl: Settings) -> None:
    """The simulator's CLI produces, a Quix Streams application (as ingest and alerting open theirs)
    consumes every report back, and the dead letters' producer is accepted."""
    import subprocess

    out = subprocess.run(
        [HARMONY, "simulate", "--start", "2026-09-01", "--count", "300", "--drones", "6"],
        env=env_of(sasl),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    app = Application(
        broker_address=connection(sasl),
        consumer_group=f"sasl-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
        state_dir=str(sasl.state_path / "quix"),
    )
    seen = 0
    with app.get_consumer() as consumer:
        consumer.subscribe([sasl.kafka.reports_topic])
        deadline = time.monotonic() + 60
        while seen < 300 and time.monotonic() < deadline:
            msg = consumer.poll(1)
            if msg is not None and msg.error() is None:
                seen += 1
    assert seen == 300

    from lakehouse.dead_letters import producer_config

    producer = Producer(producer_config(sasl))
    producer.produce(sasl.kafka.dead_letter_topic, key=b"k", value=b"v")
    assert producer.flush(15) == 0


def test_the_dashboards_identity_reads_the_lag_and_nothing_else(sasl: Settings) -> None:
    reader = sasl.model_copy(
        update={
            "kafka": sasl.kafka.model_copy(
                update={
                    "sasl_username": sasl.kafka.reader_username,
                    "sasl_password": sasl.kafka.reader_password,
                }
            )
        }
    )
    assert reader.kafka.client()["sasl.username"] == sasl.kafka.reader_username
    lag = lake.ingest_lag(reader, None)
    assert [row["partition"] for row in lag] == list(range(sasl.kafka.partitions))
    assert sum(row["end_offset"] for row in lag) >= 300, lag
    assert lake.alerting_members(reader) == {sasl.alerting.consumer_group: 0, sasl.alerting.delivery_group: 0}

    refused: list[str] = []
    producer = Producer(reader.kafka.client({"log_level": 0, "message.timeout.ms": 10_000}))
    producer.produce(
        sasl.kafka.reports_topic, value=b"{}", on_delivery=lambda err, _m: refused.append(str(err))
    )
    producer.flush(15)
    assert refused and "AUTHORIZATION" in refused[0].upper(), refused

    consumer = Consumer(reader.kafka.client({"group.id": f"steal-{uuid.uuid4().hex}", "log_level": 0}))
    try:
        consumer.subscribe([sasl.kafka.reports_topic])
        errors: list[str] = []
        deadline = time.monotonic() + 20
        while not errors and time.monotonic() < deadline:
            msg = consumer.poll(1)
            assert msg is None or msg.error() is not None, "the dashboard's identity read a report"
            if msg is not None:
                errors.append(str(msg.error()))
        assert errors and "AUTHORIZATION" in errors[0].upper(), errors
    finally:
        consumer.close()
