"""Local credentials: generated once into the git-ignored ``.env``, never committed.

A deployment sets the same ``HARMONY_`` variables in its environment instead; a variable already set in
the environment is never written to the file.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from lakehouse.settings import ENV_FILE

GENERATED = {
    "HARMONY_S3__ACCESS_KEY": lambda: "harmony-" + secrets.token_hex(4),
    "HARMONY_S3__SECRET_KEY": lambda: secrets.token_urlsafe(24),
    "HARMONY_POSTGRES__PASSWORD": lambda: secrets.token_urlsafe(18),
}


def ensure_env_file(path: Path = Path(ENV_FILE)) -> list[str]:
    """Add any missing credential to ``path``; returns the names it generated."""
    present = set()
    if path.exists():
        for line in path.read_text().splitlines():
            key, sep, _ = line.partition("=")
            if sep:
                present.add(key.strip())
    added = [k for k in GENERATED if k not in present and k not in os.environ]
    if added:
        with path.open("a") as fh:
            if path.stat().st_size and not path.read_text().endswith("\n"):
                fh.write("\n")
            fh.write("# written by `harmony stack up`: local credentials, never commit them\n")
            for key in added:
                fh.write(f"{key}={GENERATED[key]()}\n")
        path.chmod(0o600)
    return added
