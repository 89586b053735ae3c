"""compose.yaml agrees with the settings and the version pins (its processors also run for real under
podman: tests/containers/)."""

from __future__ import annotations

from pathlib import Path

import yaml

from lakehouse import versions
from lakehouse.settings import Settings
from stack.credentials import GENERATED
from stack.services.kafka import server_properties

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]


def words(service: str) -> str:
    """A server's command and environment as one string, to find the ports it listens on."""
    svc = SERVICES[service]
    return " ".join([*svc.get("command", []), *map(str, svc.get("environment", {}).values())])


def test_infrastructure_images_follow_version_pins() -> None:
    for name, image in versions.COMPOSE_IMAGES.items():
        assert SERVICES[name]["image"] == image, name


def test_everything_is_on_the_host_network_at_the_settings_ports(settings: Settings) -> None:
    """Processors find the servers at the settings' addresses whoever runs them (compose or the stack)."""
    assert all(svc["network_mode"] == "host" for svc in SERVICES.values())
    assert "/etc/kafka-harmony/server.properties" in words("kafka")  # rendered from the settings: below
    assert f"{settings.s3.host}:{settings.s3.port}" in words("minio")
    assert f"{settings.s3.host}:{settings.s3.console_port}" in words("minio")
    assert f"-p {settings.postgres.port}" in words("postgres")
    assert settings.trino.port == 8080, "the Trino image's default port"
    health = " ".join(SERVICES["dashboard"]["healthcheck"]["test"])
    assert f"{settings.dashboard.host}:{settings.dashboard.port}/_stcore/health" in health


def test_every_harmony_variable_is_a_setting() -> None:
    env = COMPOSE["x-credentials"]
    fields = Settings.model_fields
    for key in env:
        assert key.startswith("HARMONY_")
        section, _, field = key.removeprefix("HARMONY_").lower().partition("__")
        assert section in fields, key
        nested = fields[section].annotation
        assert field in nested.model_fields, key  # type: ignore[union-attr]


def test_credentials_are_never_literal() -> None:
    text = (ROOT / "compose.yaml").read_text()
    for line in text.splitlines():
        if any(s in line for s in ("PASSWORD:", "SECRET_KEY:", "ACCESS_KEY:", "ROOT_USER:")):
            assert "${HARMONY_" in line, line


def test_app_services_use_the_one_image_and_only_the_credentials() -> None:
    apps = [s for s in SERVICES.values() if "build" in s]
    assert apps, "processors and jobs are built from the Dockerfile"
    for svc in apps:
        assert svc["image"] == "harmony-lakehouse:latest"
        assert svc["environment"] == COMPOSE["x-credentials"]
        assert svc["command"][0] == "harmony"


def test_the_processors_profile_scales_out_with_health_checks_and_restarts() -> None:
    procs = {name: s for name, s in SERVICES.items() if "processors" in s.get("profiles", [])}
    commands = [" ".join(s["command"]) for s in procs.values()]
    assert commands.count("harmony ingest --stream reports") == 2
    assert commands.count("harmony alert --role rules") == 2
    assert {"harmony ingest --stream alerts", "harmony alert --role delivery", "harmony dashboard"} <= set(
        commands
    )
    for name, svc in procs.items():
        assert svc["restart"] == "on-failure" and svc["healthcheck"]["test"], name
    servers = {name for name, s in SERVICES.items() if "servers" in s.get("profiles", [])}
    assert servers >= set(versions.COMPOSE_IMAGES), "servers start only when asked (here the stack runs them)"


def test_catalog_database_and_user_match(settings: Settings) -> None:
    env = SERVICES["postgres"]["environment"]
    assert env["POSTGRES_DB"] == settings.postgres.database and env["POSTGRES_USER"] == settings.postgres.user


def test_the_broker_runs_the_configuration_rendered_from_the_settings(settings: Settings) -> None:
    """kafka-config writes what the local stack's broker runs (one source), with SASL/SCRAM on: the
    compose default; the broker formats its storage with the SCRAM users from an argument file."""
    render = SERVICES["kafka-config"]["command"]
    assert render[:3] == ["harmony", "stack", "kafka-config"]
    data = render[render.index("--data") + 1]
    assert data in SERVICES["kafka"]["volumes"][0]
    broker = " ".join(SERVICES["kafka"]["command"])
    assert (
        "kafka-storage.sh format --ignore-formatted" in broker and "@/etc/kafka-harmony/format.args" in broker
    )
    assert "kafka-server-start.sh /etc/kafka-harmony/server.properties" in broker
    protocol = COMPOSE["x-credentials"]["HARMONY_KAFKA__SECURITY_PROTOCOL"]
    assert protocol == "${HARMONY_KAFKA__SECURITY_PROTOCOL:-SASL_PLAINTEXT}"
    sasl = settings.model_copy(
        update={"kafka": settings.kafka.model_copy(update={"security_protocol": "SASL_PLAINTEXT"})}
    )
    lines = server_properties(sasl, Path(data))
    assert f"listeners=PLAINTEXT://{settings.kafka.bootstrap_servers}," in "\n".join(lines)
    assert f"log.dirs={data}" in lines


def test_every_generated_credential_reaches_the_containers() -> None:
    env = COMPOSE["x-credentials"]
    assert set(GENERATED) <= set(env), set(GENERATED) - set(env)
