"""The broker's configuration with SASL on, read as the attacker would read it: no listener a client can
reach without credentials, Kafka's own authorizer with nothing allowed by default, the passwords only in
private files (the integration half: tests/security/test_kafka_sasl.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from lakehouse.settings import KafkaSettings, Settings
from stack.services.kafka import format_arguments, server_properties


def with_sasl(settings: Settings, **changes: object) -> Settings:
    kafka = KafkaSettings.model_validate(
        {
            **settings.kafka.model_dump(),
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_password": SecretStr("platform-pw"),
            "reader_password": SecretStr("reader-pw"),
            **changes,
        }
    )
    return settings.model_copy(update={"kafka": kafka})


def properties(settings: Settings) -> dict[str, str]:
    return dict(line.split("=", 1) for line in server_properties(settings, Path("/data")) if line)


def test_with_sasl_every_listener_asks_for_credentials(settings: Settings) -> None:
    props = properties(with_sasl(settings))
    protocols = dict(pair.split(":") for pair in props["listener.security.protocol.map"].split(","))
    assert set(protocols.values()) == {"SASL_PLAINTEXT"}, protocols
    listeners = {url.split("://")[0] for url in props["listeners"].split(",")}
    assert listeners == set(protocols)
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["authorizer.class.name"].endswith("StandardAuthorizer")
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["super.users"] == "User:harmony"


def test_without_sasl_nothing_of_it_is_written(settings: Settings) -> None:
    props = properties(settings)
    assert "sasl.enabled.mechanisms" not in props and "authorizer.class.name" not in props
    assert format_arguments(settings) == []


def test_the_format_adds_both_scram_users(settings: Settings) -> None:
    assert format_arguments(with_sasl(settings)) == [
        "--add-scram=SCRAM-SHA-512=[name=harmony,password=platform-pw]",
        "--add-scram=SCRAM-SHA-512=[name=harmony_reader,password=reader-pw]",
    ]


@pytest.mark.parametrize("password", ["", 'a"b', "a,b", "a]b", "a b", "a;b"])
def test_sasl_refuses_a_password_the_broker_files_would_misread(settings: Settings, password: str) -> None:
    with pytest.raises(ValidationError, match=r"HARMONY_KAFKA__SASL_PASSWORD|only letters"):
        with_sasl(settings, sasl_password=SecretStr(password))


def test_every_client_gets_the_credentials(settings: Settings) -> None:
    client = with_sasl(settings).kafka.client({"group.id": "g"})
    assert client == {
        "bootstrap.servers": settings.kafka.bootstrap_servers,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "harmony",
        "sasl.password": "platform-pw",
        "group.id": "g",
    }
    assert settings.kafka.client() == {"bootstrap.servers": settings.kafka.bootstrap_servers}


def test_the_dashboard_connects_as_the_reader(settings: Settings) -> None:
    env = with_sasl(settings).reader_environment()
    assert env["HARMONY_KAFKA__SASL_USERNAME"] == "harmony_reader"
    assert env["HARMONY_KAFKA__SASL_PASSWORD"] == "reader-pw"
