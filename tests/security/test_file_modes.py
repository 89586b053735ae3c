"""Files that hold a secret or personal data are 0600 from their first byte, and repaired when found open."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from alerting.parking import Spool
from lakehouse.private_files import open_private, private_dir, repair, write_private
from lakehouse.settings import ENV_FILE, Settings
from stack.credentials import ensure_env_file


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The most permissive umask a user may have: nothing the code creates may rely on it."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_a_private_file_is_never_readable_by_others(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "secret"
    with open_private(path) as f:
        assert mode(path) == 0o600, "readable by others before the first byte"
        f.write(b"x")
    write_private(tmp_path / "replaced", b"y")
    assert mode(tmp_path / "replaced") == 0o600
    assert {p.name for p in tmp_path.iterdir()} == {"secret", "replaced"}, "a temporary file was left"


def test_an_existing_open_file_is_closed_before_it_is_written(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "old"
    path.write_bytes(b"old")
    path.chmod(0o644)
    with open_private(path, append=True) as f:
        assert mode(path) == 0o600
        f.write(b" new")
    assert path.read_bytes() == b"old new"
    path.chmod(0o666)
    assert repair(path) and mode(path) == 0o600
    assert not repair(path) and not repair(tmp_path / "missing")
    folder = tmp_path / "logs"
    folder.mkdir(mode=0o777)
    assert mode(private_dir(folder)) == 0o700


def test_env_file_is_private_from_creation_and_repaired(tmp_path: Path, open_umask: None) -> None:
    env = tmp_path / ".env"
    ensure_env_file(env)
    assert mode(env) == 0o600
    env.chmod(0o644)
    ensure_env_file(env)  # nothing to add, but found open: closed
    assert mode(env) == 0o600


def test_the_parking_spool_is_private(tmp_path: Path, open_umask: None) -> None:
    spool = Spool(tmp_path / "parking" / "alerts.jsonl")
    assert spool.load() == []
    spool.append([b'{"name": "a citizen"}'])
    assert mode(spool.path) == 0o600 and mode(spool.path.parent) == 0o700
    spool.path.chmod(0o644)
    assert spool.load() == [b'{"name": "a citizen"}'] and mode(spool.path) == 0o600


def test_dockerignore_keeps_the_env_file_out_of_images() -> None:
    root = Path(__file__).resolve().parents[2]
    assert ENV_FILE in (root / ".dockerignore").read_text().split()


def test_the_running_stacks_files_are_private(stack: Settings) -> None:
    """What `harmony stack up` wrote: the credentials, Trino's configuration (its catalogs hold keys) and
    every server's log."""
    state = stack.state_path
    files = [
        Path(ENV_FILE),
        *sorted((state / "trino" / "etc").rglob("*.properties")),
        *(state / "logs").glob("*.log"),
    ]
    assert len(files) > 8
    open_ = [f"{p}: {oct(mode(p))}" for p in files if mode(p) & 0o077]
    assert open_ == []
    assert mode(state / "logs") & 0o077 == 0
