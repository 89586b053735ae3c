"""Settings: one frozen object from HARMONY_ variables, with actionable errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from lakehouse.settings import Settings, SettingsError, get_settings
from stack.credentials import GENERATED

CREDS = {
    **{key: f"generated-{i}" for i, key in enumerate(GENERATED)},  # every credential `stack up` writes
    "HARMONY_S3__ACCESS_KEY": "k",
    "HARMONY_S3__SECRET_KEY": "s",
    "HARMONY_POSTGRES__PASSWORD": "p",
}


@pytest.fixture()
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.chdir(tmp_path)  # no .env here
    for key in CREDS:
        monkeypatch.delenv(key, raising=False)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def test_nested_environment_overrides(clean_env: pytest.MonkeyPatch) -> None:
    for k, v in CREDS.items():
        clean_env.setenv(k, v)
    clean_env.setenv("HARMONY_KAFKA__PORT", "19092")
    clean_env.setenv("HARMONY_KAFKA__PARTITIONS", "8")
    s = get_settings()
    assert s.kafka.bootstrap_servers == "127.0.0.1:19092"
    assert s.kafka.partitions == 8
    assert s.warehouse == "s3://warehouse/"
    assert "p@" in s.postgres.sqlalchemy_url and s.postgres.jdbc_url.endswith(":5433/lake")


def test_settings_are_frozen(clean_env: pytest.MonkeyPatch) -> None:
    for k, v in CREDS.items():
        clean_env.setenv(k, v)
    s = get_settings()
    with pytest.raises(ValidationError):
        s.kafka.port = 1  # type: ignore[misc]


def test_secrets_never_print(clean_env: pytest.MonkeyPatch) -> None:
    for k, v in CREDS.items():
        clean_env.setenv(k, v + "-very-secret")
    assert "very-secret" not in repr(get_settings())


def test_missing_credentials_say_what_to_do(clean_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError) as err:
        get_settings()
    assert "HARMONY_S3__ACCESS_KEY" in str(err.value) and "harmony stack up" in str(err.value)


def test_env_file_is_read(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "\n".join(f"{k}={v}" for k, v in CREDS.items()) + "\nHARMONY_TRINO__PORT=18080\n"
    )
    s = Settings()
    assert s.trino.port == 18080 and s.s3.access_key.get_secret_value() == "k"
