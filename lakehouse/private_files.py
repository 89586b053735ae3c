"""Files that hold a secret or personal data: created with mode 0600 in one step, repaired when found open.

A file created with the default umask and chmod'ed afterwards is readable by others for a moment, and
one that already existed keeps whatever mode it had. Here the mode is given to ``os.open`` itself, and
an existing file's mode is fixed through the open descriptor before a byte is written.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO

PRIVATE = 0o600
PRIVATE_DIR = 0o700


def is_private(path: Path) -> bool:
    """Whether nobody but the owner may read or write ``path``."""
    return stat.S_IMODE(path.stat().st_mode) & 0o077 == 0


def repair(path: Path) -> bool:
    """Close ``path`` to everyone but its owner if it exists and is open; whether it had to."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return False
    if mode & 0o077 == 0:
        return False
    path.chmod(mode & 0o700 or PRIVATE)
    return True


def open_private(path: Path, *, append: bool = False) -> BinaryIO:
    """``path`` opened for writing (truncated, or appended to), mode 0600 from its creation on."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, PRIVATE)
    try:
        os.fchmod(fd, PRIVATE)  # a file that existed keeps its old mode through os.open: fix it first
        return os.fdopen(fd, "ab" if append else "wb")
    except BaseException:
        os.close(fd)
        raise


def write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically; the new file is 0600 before it holds anything (a new
    name of its own, created exclusively: a file or link planted beside it is never written through)."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def private_dir(path: Path) -> Path:
    """``path`` (and its missing parents) as a folder only its owner can list; an existing one is fixed."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        path.chmod(PRIVATE_DIR)
    return path
