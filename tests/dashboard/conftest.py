"""The dashboard's tests: its pages run in-process (Streamlit's AppTest) on the session's seeded lake."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import ui
from lakehouse.settings import get_settings
from testkit.lakes import Lake
from testkit.pages import APP, PAGES, use_env


@pytest.fixture(scope="session")
def analysed_lake(seeded_lake: Lake) -> Lake:
    """The session's seeded lake, analysed when it was built: the pages only read it."""
    return seeded_lake


@pytest.fixture()
def open_page(analysed_lake: Lake, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., AppTest]]:
    """Open a page of the app on the seeded lake, with optional query parameters and extra settings."""
    use_env(monkeypatch, analysed_lake.env)

    def open_(page: str, params: dict[str, str] | None = None, **env: str) -> AppTest:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        ui.clear_caches()
        at = AppTest.from_file(APP, default_timeout=90)
        for key, value in (params or {}).items():
            at.query_params[key] = value
        at.run()
        if page != "overview":
            at.switch_page(PAGES[page]).run()
        return at

    yield open_
    get_settings.cache_clear()
    ui.clear_caches()
