"""The dashboard's tests: its pages run in-process (Streamlit's AppTest) on the session's seeded lake."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import ui
from lakehouse.settings import get_settings
from tests.seeded import SeededLake

APP = str(Path(__file__).parents[2] / "dashboard" / "app.py")
PAGES = {
    "overview": "views/overview.py",
    "answers": "views/answers.py",
    "alerts": "views/alerts.py",
    "explore": "views/explore.py",
}


@pytest.fixture(scope="session")
def analysed_lake(seeded_lake: SeededLake) -> SeededLake:
    seeded_lake.harmony("analyze", "--master", "local[2]")
    return seeded_lake


def use_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    """Point this process's settings (and the app's caches) at ``env``."""
    for name, value in env.items():
        if name.startswith("HARMONY_"):
            monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    ui.clear_caches()


@pytest.fixture()
def open_page(analysed_lake: SeededLake, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., AppTest]]:
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
