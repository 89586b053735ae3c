"""Fixtures for the containers tests: the project image, built once per session, and the alerting tests'
isolated lanes (topics, groups, tables)."""

from __future__ import annotations

import re
import subprocess

import pytest

from lakehouse.settings import Settings
from testkit.alert_lane import alert_lane
from testkit.commands import HARMONY

__all__ = ["alert_lane", "image"]


@pytest.fixture(scope="session")
def image(stack: Settings) -> str:
    out = subprocess.run(
        [HARMONY, "images", "build"], capture_output=True, text=True, timeout=3000, check=False
    )
    assert out.returncode == 0, out.stderr[-3000:]
    size = re.search(r"([\d,]+) MB", out.stderr)
    assert size, out.stderr
    return out.stderr
