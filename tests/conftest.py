"""Fixtures shared by every area: the real local stack, started once per test session."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest

warnings.filterwarnings("ignore", message="The httpx module is deprecated")

from lakehouse.settings import Settings, get_settings  # noqa: E402
from stack import manager  # noqa: E402
from stack.credentials import ensure_env_file  # noqa: E402


@pytest.fixture(scope="session")
def settings() -> Settings:
    ensure_env_file()
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture(scope="session")
def stack(settings: Settings) -> Iterator[Settings]:
    """The real Kafka, MinIO, PostgreSQL and Trino; a service that cannot start fails the tests loudly."""
    try:
        manager.up(settings)
    except Exception as exc:
        pytest.fail(f"the local stack could not start: {exc}", pytrace=False)
    yield settings
