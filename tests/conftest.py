"""Fixtures shared by every area: the real local stack, started once per test session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lakehouse.settings import Settings, get_settings
from stack import manager
from stack.credentials import ensure_env_file


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
