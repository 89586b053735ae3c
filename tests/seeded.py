"""The session's shared lakes as fixtures, built once and only read (``testkit/seeded.py``: the recipes).
Registered by ``tests/conftest.py``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lakehouse.settings import Settings
from testkit.lakes import Lake, private_lake
from testkit.seeded import seed, seed_fleet


@pytest.fixture(scope="session")
def seeded_lake(stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lake]:
    with private_lake(stack, "spark", tmp_path_factory.mktemp("spark")) as lake:
        seed(lake)
        yield lake


@pytest.fixture(scope="session")
def fleet_lake(stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lake]:
    with private_lake(stack, "fleet", tmp_path_factory.mktemp("fleet")) as lake:
        seed_fleet(lake)
        yield lake
