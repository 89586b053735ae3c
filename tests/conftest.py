"""Fixtures shared by every area: the real local stack, started once per test session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lakehouse.settings import Settings, get_settings
from stack import manager
from stack.credentials import ensure_env_file

# The shared lakes (read-only) and the lanes of their own, for every area.
pytest_plugins = ["tests.seeded", "tests.lanes"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses the real stack (directly or through an area's fixtures) is an integration test:
    ``pytest -m 'not integration'`` runs the server-free rest in seconds."""
    for item in items:
        if "stack" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True, scope="session")
def pages_served_on_loopback() -> None:
    """In-process page tests (Streamlit's AppTest) run as `harmony dashboard` serves them by default, on
    127.0.0.1 (AppTest leaves the address unset, which is every interface: the login page)."""
    from streamlit import config

    config.set_option("server.address", "127.0.0.1")


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
