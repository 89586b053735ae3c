"""requirements.lock agrees with pyproject.toml: every pinned direct dependency is locked at its pin, so
a bump in one without `make lock` fails here, server-free, before any install."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_direct_pin_is_locked_at_the_same_version() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    direct = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    pins = {}
    for requirement in direct:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?==([^;\s]+)", requirement.strip())
        assert match, f"{requirement}: a direct dependency is pinned with =="
        pins[canonical(match[1])] = match[3]
    locked = dict(
        (canonical(name), version)
        for name, version in re.findall(
            r"^([A-Za-z0-9_.-]+)==(\S+)", (ROOT / "requirements.lock").read_text(), re.M
        )
    )
    assert {name: locked.get(name) for name in pins} == pins
