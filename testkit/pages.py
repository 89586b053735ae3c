"""The dashboard's app and pages as its in-process tests (Streamlit's AppTest) open them, and the settings
they read pointed at a lane."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard import ui
from lakehouse.settings import get_settings

APP = str(Path(__file__).parents[1] / "dashboard" / "app.py")
PAGES = {
    "overview": "views/overview.py",
    "answers": "views/answers.py",
    "alerts": "views/alerts.py",
    "explore": "views/explore.py",
}


def use_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    """Point this process's settings (and the app's caches) at ``env``."""
    for name, value in env.items():
        if name.startswith("HARMONY_"):
            monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    ui.clear_caches()
