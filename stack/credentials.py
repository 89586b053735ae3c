"""Local credentials: generated once into the git-ignored ``.env``, never committed.

A deployment sets the same ``HARMONY_`` variables in its environment instead; a variable already set in
the environment is never written to the file.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from lakehouse.private_files import open_private, repair
from lakehouse.settings import ENV_FILE

GENERATED = {
    "HARMONY_S3__ACCESS_KEY": lambda: "harmony-" + secrets.token_hex(4),
    "HARMONY_S3__SECRET_KEY": lambda: secrets.token_urlsafe(24),
    "HARMONY_POSTGRES__PASSWORD": lambda: secrets.token_urlsafe(18),
    "HARMONY_S3__READER_ACCESS_KEY": lambda: "harmony-reader-" + secrets.token_hex(4),
    "HARMONY_S3__READER_SECRET_KEY": lambda: secrets.token_urlsafe(24),
    "HARMONY_POSTGRES__READER_PASSWORD": lambda: secrets.token_urlsafe(18),
    "HARMONY_TRINO__PASSWORD": lambda: secrets.token_urlsafe(18),
    "HARMONY_TRINO__SHARED_SECRET": lambda: secrets.token_urlsafe(48),
    "HARMONY_DASHBOARD__TRINO_PASSWORD": lambda: secrets.token_urlsafe(18),
    "HARMONY_DASHBOARD__ANALYST_TRINO_PASSWORD": lambda: secrets.token_urlsafe(18),
    "HARMONY_DASHBOARD__OPERATOR_PASSWORD": lambda: secrets.token_urlsafe(12),
    "HARMONY_DASHBOARD__ANALYST_PASSWORD": lambda: secrets.token_urlsafe(12),
    "HARMONY_KAFKA__SASL_PASSWORD": lambda: secrets.token_urlsafe(18),
    "HARMONY_KAFKA__READER_PASSWORD": lambda: secrets.token_urlsafe(18),
}


def ensure_env_file(path: Path = Path(ENV_FILE)) -> list[str]:
    """Add any missing credential to ``path``; returns the names it generated.

    The file is 0600 from its first byte on, and one found readable by others is closed first."""
    repair(path)
    present = set()
    if path.exists():
        for line in path.read_text().splitlines():
            key, sep, _ = line.partition("=")
            if sep:
                present.add(key.strip())
    added = [k for k in GENERATED if k not in present and k not in os.environ]
    if added:
        old = path.read_bytes() if path.exists() else b""
        head = b"\n" if old and not old.endswith(b"\n") else b""
        lines = [f"{key}={GENERATED[key]()}\n" for key in added]
        with open_private(path, append=True) as fh:
            fh.write(head + b"# written by `harmony stack up`: local credentials, never commit them\n")
            fh.write("".join(lines).encode())
    return added


def set_env_value(key: str, value: str, path: Path = Path(ENV_FILE)) -> bool:
    """Set one variable in ``path`` (replacing its line, else appending one); returns whether it changed."""
    repair(path)
    lines = path.read_text().splitlines() if path.exists() else []
    line = f"{key}={value}"
    kept = [old for old in lines if old.partition("=")[0].strip() != key]
    if line in lines and len(kept) == len(lines) - 1:
        return False
    with open_private(path) as fh:
        fh.write(("\n".join([*kept, line]) + "\n").encode())
    return True
