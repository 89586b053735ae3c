"""The project image holds the working tree's code, not a cached copy of an older one (a wheelhouse cached
by pyproject.toml's hash once carried a stale wheel of the project: every v2 report went to dead letters in
the containers), and runs as a non-root user."""

from __future__ import annotations

import hashlib
import subprocess

from lakehouse.settings import Settings
from stack.images import IMAGE, ROOT, podman_env

PACKAGES = ("lakehouse", "ingest", "alerting", "simulator")
# Prints, inside the image, a hash of every module of the installed packages, and the user it runs as.
PROBE = f"""
import hashlib, importlib, os, pathlib
for name in {PACKAGES!r}:
    root = pathlib.Path(importlib.import_module(name).__file__).parent
    for f in sorted(root.rglob("*.py")):
        print(name + "/" + f.relative_to(root).as_posix(), hashlib.sha256(f.read_bytes()).hexdigest())
print("uid", os.getuid())
"""


def test_image_holds_the_working_trees_code_and_runs_unprivileged(stack: Settings, image: str) -> None:
    out = subprocess.run(
        ["podman", "run", "--rm", f"{IMAGE}:latest", "python3", "-c", PROBE],
        env=podman_env(stack), capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    lines = dict(line.rsplit(" ", 1) for line in out.stdout.splitlines())
    assert lines.pop("uid") != "0", "the image runs as root"
    here = {
        f.relative_to(ROOT).as_posix(): hashlib.sha256(f.read_bytes()).hexdigest()
        for name in PACKAGES
        for f in sorted((ROOT / name).rglob("*.py"))
    }
    differ = sorted(k for k in here.keys() | lines.keys() if here.get(k) != lines.get(k))
    assert not differ, f"the image's modules differ from the working tree's: {differ[:10]}"
