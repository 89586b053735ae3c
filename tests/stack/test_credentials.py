from __future__ import annotations

from pathlib import Path

import pytest

from stack.credentials import GENERATED, ensure_env_file


def test_generates_missing_once_and_keeps_existing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in GENERATED:
        monkeypatch.delenv(key, raising=False)
    env = tmp_path / ".env"
    env.write_text("HARMONY_S3__ACCESS_KEY=mine")
    added = ensure_env_file(env)
    assert sorted(added) == sorted(set(GENERATED) - {"HARMONY_S3__ACCESS_KEY"})
    text = env.read_text()
    assert "HARMONY_S3__ACCESS_KEY=mine\n" in text
    assert ensure_env_file(env) == [] and env.read_text() == text
    assert env.stat().st_mode & 0o077 == 0


def test_environment_wins_over_generation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in GENERATED:
        monkeypatch.setenv(key, "from-env")
    assert ensure_env_file(tmp_path / ".env") == []
    assert not (tmp_path / ".env").exists()
