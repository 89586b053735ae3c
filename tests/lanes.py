"""The lanes of their own on the real stack that ingest, alerting, reliability and the containers' tests
run in, as fixtures: one per test, removed after it. Registered by ``tests/conftest.py``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lakehouse.settings import Settings
from testkit import alert_lane as alerting
from testkit import ingest_lane as ingest


@pytest.fixture()
def lane(stack: Settings, tmp_path: Path) -> Iterator[ingest.Lane]:
    with ingest.ingest_lane(stack, tmp_path) as lane:
        yield lane


@pytest.fixture()
def alert_lane(stack: Settings, tmp_path: Path) -> Iterator[alerting.AlertLane]:
    with alerting.alert_lane(stack, tmp_path) as lane:
        yield lane
