"""Bring the whole local stack up, report on it and take it down.

``up`` is idempotent: installs are cached, a running healthy service is left alone, and provisioning
(topics, bucket, catalog database) only creates what is missing. Services start concurrently and are
then waited on through real health checks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from lakehouse.settings import Settings
from stack.downloads import DownloadError
from stack.services import ALL, Service, ServiceError, nodes


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    address: str
    pid: int | None
    healthy: bool
    log: str


def services(settings: Settings) -> list[Service]:
    """Every node of the settings' topology (one of each server, or a cluster's brokers, workers ...)."""
    return nodes(settings)


Report = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def up(settings: Settings, report: Report = _quiet) -> dict[str, float]:
    """Install, start, health-check and provision every service; returns seconds per phase."""
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    all_services = services(settings)

    def install(svc: Service) -> None:
        report(f"{svc.name}: installing (cached after the first run)")
        try:
            svc.install()
        except DownloadError as exc:
            raise ServiceError(
                svc.name,
                str(exc),
                hint="check that the registries are reachable, then rerun `harmony stack up`",
            ) from exc

    # Installs run in parallel: they are downloads and a Go build, bound by network and disk. A server
    # that runs as several nodes is installed once (type(...).name: the server's, not the node's).
    kinds = list({type(s).name: s for s in all_services}.values())
    with ThreadPoolExecutor(max_workers=len(kinds)) as pool:
        for installing in [pool.submit(install, s) for s in kinds]:
            installing.result()
    timings["install_s"] = time.monotonic() - t0

    for svc in all_services:
        if svc.running_pid() is None:
            report(f"{svc.name}: starting on {svc.address}")
            svc.prepare()
            svc.start()
        else:
            report(f"{svc.name}: already running (pid {svc.running_pid()})")

    def wait(svc: Service) -> float:
        elapsed = svc.wait_healthy()
        report(f"{svc.name}: healthy on {svc.address}")
        return elapsed

    with ThreadPoolExecutor(max_workers=len(all_services)) as pool:
        waits = {s.name: pool.submit(wait, s) for s in all_services}
        errors = []
        for name, fut in waits.items():
            try:
                timings[f"{name}_healthy_s"] = fut.result()
            except ServiceError as exc:
                errors.append(exc)
        if errors:
            raise errors[0]
    # Once every node answers: a topic with three copies needs the three brokers registered.
    for svc in all_services:
        svc.provision()
    _init_catalog(settings)
    timings["total_s"] = time.monotonic() - t0
    return timings


def provision(settings: Settings, report: Report = _quiet) -> None:
    """Create topics, bucket, catalog database and catalog tables on servers that run elsewhere."""
    for svc in [cls(settings) for cls in ALL]:
        svc.wait_healthy_remote()
        svc.provision()
        report(f"{svc.name}: provisioned on {svc.address}")
    _init_catalog(settings)


def provision_topics(settings: Settings) -> None:
    """Create the settings' Kafka topics that are missing (as `stack up` does)."""
    from stack.services.kafka import Kafka

    Kafka(settings).provision()


def _init_catalog(settings: Settings) -> None:
    """Create the JDBC catalog's tables so every engine finds a ready catalog, even before any write."""
    from lakehouse.catalog import load_catalog

    load_catalog(settings)


def down(settings: Settings, report: Report = _quiet) -> list[str]:
    """Stop, in reverse start order, only the processes this stack started; returns their names."""
    stopped = []
    for svc in reversed(services(settings)):
        if svc.stop():
            stopped.append(svc.name)
            report(f"{svc.name}: stopped")
    return stopped


def other_topology_running(settings: Settings) -> list[str]:
    """Nodes running from this state folder that the settings' topology does not have (the other
    topology's brokers, say): starting beside them would fight over ports and data."""
    from stack.services.base import owned_by

    names = {svc.name for svc in services(settings)}
    run = settings.state_path / "run"
    pids = sorted(run.glob("*.pid")) if run.exists() else []
    return [p.stem for p in pids if p.stem not in names and owned_by(p, settings.state_path)]


def status(settings: Settings) -> list[ServiceStatus]:
    out = []
    for svc in services(settings):
        pid = svc.running_pid()
        out.append(
            ServiceStatus(
                name=svc.name,
                address=svc.address,
                pid=pid,
                healthy=pid is not None and svc.healthy(),
                log=str(svc.log_file),
            )
        )
    return out
