"""Network faults through the stack's Toxiproxy: a process routed through it can be partitioned from one
server, or slowed down, while every other client of that server is untouched."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import httpx

from lakehouse.settings import Settings

SERVERS = ("kafka", "minio", "postgres")


def proxied_env(settings: Settings) -> dict[str, str]:
    """The HARMONY_ variables that route a processor to every server through its proxy."""
    t = settings.toxiproxy
    return {
        "HARMONY_KAFKA__PORT": str(t.kafka_port),
        "HARMONY_S3__PORT": str(t.s3_port),
        "HARMONY_POSTGRES__PORT": str(t.postgres_port),
    }


class Toxics:
    """Add and remove toxics on the proxies (Toxiproxy's HTTP API)."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.toxiproxy.url
        self.reset()

    def reset(self) -> None:
        """Every proxy enabled and without toxics (POST /reset)."""
        httpx.post(f"{self.url}/reset", timeout=10).raise_for_status()

    def add(self, server: str, name: str, kind: str, stream: str, **attributes: int) -> None:
        body = {"name": name, "type": kind, "stream": stream, "toxicity": 1.0, "attributes": attributes}
        httpx.post(f"{self.url}/proxies/{server}/toxics", json=body, timeout=10).raise_for_status()

    def remove(self, server: str, name: str) -> None:
        httpx.delete(f"{self.url}/proxies/{server}/toxics/{name}", timeout=10).raise_for_status()

    @contextlib.contextmanager
    def partition(self, server: str) -> Iterator[None]:
        """Nothing passes either way and no connection is closed (a ``timeout`` toxic of 0): what a
        dropped route looks like to both ends, until healed."""
        for stream in ("upstream", "downstream"):
            self.add(server, f"cut-{stream}", "timeout", stream, timeout=0)
        try:
            yield
        finally:
            for stream in ("upstream", "downstream"):
                self.remove(server, f"cut-{stream}")

    @contextlib.contextmanager
    def latency(self, ms: int, servers: tuple[str, ...] = SERVERS) -> Iterator[None]:
        """``ms`` added to every answer from each of ``servers``."""
        for server in servers:
            self.add(server, "slow", "latency", "downstream", latency=ms, jitter=0)
        try:
            yield
        finally:
            for server in servers:
                self.remove(server, "slow")
