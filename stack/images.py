"""Container images built locally with podman: these machines have no registry and no Docker daemon.

* the base image: ``debootstrap --variant=minbase`` of Debian bookworm with python3 (what
  ``python:3.11-slim`` gives Docker users), imported with ``podman import`` and tagged with a hash of its
  recipe, so it is built once and again only when the recipe changes;
* the project image, one for every component, from the repository's ``Dockerfile`` with that base as its
  ``BASE`` build argument, installed offline from a wheelhouse the host builds from PyPI.

podman runs under a containers.conf the project owns (``CONTAINERS_CONF``), never the machine's: runc and
cgroupfs (crun refuses this machine's cgroup layout), ulimits within the machine's hard limits, host
networking. podman, runc and debootstrap come from Debian's packages when missing.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from lakehouse.settings import Settings
from stack.debian import apt_install

ROOT = Path(__file__).resolve().parents[1]
IMAGE = "harmony-lakehouse"
PROJECT_WHEEL = "harmony_lakehouse"  # the distribution's name as wheel files spell it
BASE_IMAGE = "harmony-base"
SUITE = "bookworm"
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
netns = "host"

[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
events_logger = "file"
"""


class ImageError(RuntimeError):
    pass


@dataclass(frozen=True)
class Built:
    image: str
    size_mb: float
    base: str


def podman_env(settings: Settings) -> dict[str, str]:
    """The environment every podman call of the project runs with (its own containers.conf)."""
    conf = settings.state_path / "containers" / "containers.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    if not conf.exists() or conf.read_text() != CONTAINERS_CONF:
        conf.write_text(CONTAINERS_CONF)
    return {**os.environ, "CONTAINERS_CONF": str(conf)}


def ensure_tools() -> None:
    missing = [tool for tool in ("podman", "runc", "debootstrap") if shutil.which(tool) is None]
    if missing:
        apt_install(*missing)


def _run(cmd: list[str], env: dict[str, str], what: str, timeout: float = 1800) -> str:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise ImageError(f"{what} failed ({' '.join(cmd[:3])} …): {(proc.stderr or proc.stdout)[-1500:]}")
    return proc.stdout


def debian_mirror() -> str:
    """The Debian mirror the machine's apt uses (the only archive these machines reach)."""
    for source in [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*.sources")]:
        if not source.exists():
            continue
        for line in source.read_text().splitlines():
            words = line.split()
            if words[:1] == ["URIs:"] and "security" not in words[1]:
                return words[1]
            if words[:1] == ["deb"] and "debian" in line and "security" not in line:
                return words[1] if not words[1].startswith("[") else words[2]
    return "http://deb.debian.org/debian"


def base_tag() -> str:
    recipe = f"debootstrap --variant=minbase --include={','.join(BASE_PACKAGES)} {SUITE} {debian_mirror()}"
    return f"{BASE_IMAGE}:{hashlib.sha256(recipe.encode()).hexdigest()[:12]}"


def exists(image: str, env: dict[str, str]) -> bool:
    return subprocess.run(["podman", "image", "exists", image], env=env, check=False).returncode == 0


def build_base(settings: Settings, env: dict[str, str]) -> str:
    """The Debian base image, built unless its recipe's tag already exists."""
    tag = base_tag()
    if exists(tag, env):
        return tag
    with tempfile.TemporaryDirectory(prefix="harmony-rootfs-", dir=settings.cache_path) as tmp:
        rootfs = Path(tmp) / "rootfs"
        _run(
            ["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}", SUITE, str(rootfs),
             debian_mirror()],
            env, "debootstrap", timeout=1800,
        )  # fmt: skip
        shutil.rmtree(rootfs / "var" / "cache" / "apt" / "archives", ignore_errors=True)
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run(
            ["podman", "import", "--change", "CMD=/bin/bash", "-", tag],
            stdin=tar.stdout, env=env, capture_output=True, text=True, check=False, timeout=900,
        )  # fmt: skip
        tar.wait()
        if imported.returncode != 0 or tar.returncode != 0:
            raise ImageError(f"podman import failed: {imported.stderr[-1000:]}")
    return tag


def wheelhouse(settings: Settings) -> Path:
    """Wheels of the project's dependencies, from PyPI on the host (cached by pyproject's hash): the image
    build installs from them with ``--no-index``, needing no network. The project's own wheel is left out:
    its code changes without pyproject.toml changing, so it is built fresh for every image (project_wheel)."""
    key = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:12]
    cached = settings.cache_path / "wheelhouse" / key
    if not (cached / ".complete").exists():
        cached.mkdir(parents=True, exist_ok=True)
        with _clean_source() as source:  # pip builds the project too: never in the checkout (build/)
            _run(
                [sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(cached),
                 str(source)],
                dict(os.environ), "building the wheelhouse", timeout=1800,
            )  # fmt: skip
        (cached / ".complete").touch()
    for own in cached.glob(f"{PROJECT_WHEEL}-*.whl"):
        own.unlink()  # a cache made before this rule held a stale copy of the project
    return cached


@contextlib.contextmanager
def _clean_source() -> Iterator[Path]:
    """A copy of what the project's wheel is made of (pyproject.toml, README.md, the packages it names), in
    a temporary folder: pip writes its ``build/`` there, never in the checkout, and a stale ``build/`` in
    the checkout cannot put a deleted module back into an image."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = [p.rstrip("*") for p in config["tool"]["setuptools"]["packages"]["find"]["include"]]
    with tempfile.TemporaryDirectory(prefix="harmony-src-") as tmp:
        source = Path(tmp) / "src"
        source.mkdir()
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(ROOT / name, source / name)
        for package in packages:
            shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
        yield source


def project_wheel(into: Path) -> Path:
    """The project's wheel from the working tree as it is now (no dependencies: they are in the wheelhouse),
    built from a clean copy (``_clean_source``)."""
    with _clean_source() as source, tempfile.TemporaryDirectory(prefix="harmony-wheel-") as tmp:
        wheels = Path(tmp) / "wheels"
        _run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheels),
             str(source)],
            dict(os.environ), "building the project's wheel", timeout=600,
        )  # fmt: skip
        (wheel,) = wheels.glob(f"{PROJECT_WHEEL}-*.whl")
        return Path(shutil.copy2(wheel, into / wheel.name))


def build(settings: Settings, report: Callable[[str], None] = print) -> Built:
    """Build (or reuse) the base image, then the project image; returns its tag and size."""
    ensure_tools()
    env = podman_env(settings)
    report("base image (debootstrap, cached by recipe)")
    base = build_base(settings, env)
    report(f"wheelhouse (cached by pyproject.toml) for {IMAGE}")
    wheels = wheelhouse(settings)
    target = ROOT / "wheelhouse"
    for old in target.glob("*.whl"):
        old.unlink()
    for wheel in wheels.glob("*.whl"):  # the build context holds them only during the build
        shutil.copy2(wheel, target / wheel.name)
    report("the project's wheel, from the working tree")
    project_wheel(target)
    report(f"{IMAGE}:latest on {base}")
    try:
        _run(
            ["podman", "build", "--build-arg", f"BASE={base}", "--build-arg", "OFFLINE=1", "-t",
             f"{IMAGE}:latest", "-f", str(ROOT / "Dockerfile"), str(ROOT)],
            env, "podman build", timeout=1800,
        )  # fmt: skip
    finally:
        for wheel in target.glob("*.whl"):
            wheel.unlink()
    inspect = ["podman", "image", "inspect", "--format", "{{.Size}}", f"{IMAGE}:latest"]
    size = int(_run(inspect, env, "podman image inspect"))
    return Built(f"{IMAGE}:latest", size / 1e6, base)
