"""compose.yaml describes the same topology as the local stack (no Docker engine here to run it)."""

from __future__ import annotations

from pathlib import Path

import yaml

from lakehouse.settings import Settings
from stack import versions

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]


def host_ports(service: str) -> set[int]:
    return {int(p.split(":")[-2]) for p in SERVICES[service].get("ports", [])}


def test_infrastructure_images_follow_version_pins() -> None:
    for name, image in versions.COMPOSE_IMAGES.items():
        assert SERVICES[name]["image"] == image, name


def test_published_ports_are_the_settings_ports(settings: Settings) -> None:
    assert host_ports("kafka") == {settings.kafka.port}
    assert host_ports("minio") == {settings.s3.port, settings.s3.console_port}
    assert host_ports("postgres") == {settings.postgres.port}
    assert host_ports("trino") == {settings.trino.port}


def test_every_harmony_variable_is_a_setting() -> None:
    env = COMPOSE["x-harmony-env"]
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


def test_app_services_use_the_one_image_and_shared_env() -> None:
    apps = [s for s in SERVICES.values() if "build" in s]
    assert apps, "processors and jobs are built from the Dockerfile"
    for svc in apps:
        assert svc["image"] == "harmony-lakehouse:latest"
        assert svc["environment"] == COMPOSE["x-harmony-env"]
        assert svc["command"][0] == "harmony"


def test_catalog_database_and_user_match(settings: Settings) -> None:
    env = SERVICES["postgres"]["environment"]
    assert env["POSTGRES_DB"] == settings.postgres.database and env["POSTGRES_USER"] == settings.postgres.user
