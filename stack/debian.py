"""Debian packages the stack needs (PostgreSQL's server, Chromium for the browser tests), installed with
apt when missing and when running as root; otherwise a clear hint to do it."""

from __future__ import annotations

import os
import subprocess

APT_TIMEOUT_S = 900


class PackageError(RuntimeError):
    """A package could not be installed; the message says what to run instead."""


def apt_install(*packages: str) -> None:
    """Install ``packages`` from Debian's archive (as root), or raise with the command to run."""
    if os.geteuid() != 0:
        raise PackageError(f"not installed: run `sudo apt-get install -y {' '.join(packages)}`")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages],
    ):
        try:
            proc = subprocess.run(
                cmd, capture_output=True, text=True, env=env, check=False, timeout=APT_TIMEOUT_S
            )
        except subprocess.TimeoutExpired as exc:
            raise PackageError(f"`{' '.join(cmd)}` did not finish in {APT_TIMEOUT_S // 60} minutes") from exc
        if proc.returncode != 0:
            raise PackageError(f"`{' '.join(cmd)}` failed: {proc.stderr[-300:]}")
