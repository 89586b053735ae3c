"""Toxiproxy, the reliability suite's fault-injection proxy, built from the Go module proxy.

One TCP proxy in front of each server (the broker's proxied listener, MinIO, PostgreSQL). A process whose
settings point at the proxies' ports can then be cut off from one server (a network partition) or slowed
down, without touching the machine's network or the other clients. Nothing goes through it unless asked.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson

from lakehouse import versions
from stack import downloads
from stack.services.base import Service


class Toxiproxy(Service):
    name = "toxiproxy"

    @property
    def host(self) -> str:
        return self.settings.toxiproxy.host

    @property
    def ports(self) -> tuple[int, ...]:
        t, k = self.settings.toxiproxy, self.settings.kafka
        return (t.port, *(k.node_port(t.kafka_port, n) for n in k.nodes), t.s3_port, t.postgres_port)

    @property
    def binary(self) -> Path:
        return self.cache / "toxiproxy" / versions.TOXIPROXY / "server"

    def install(self) -> None:
        downloads.cached(
            self.binary.parent,
            lambda tmp: downloads.go_install(self.cache, versions.TOXIPROXY_MODULE, versions.TOXIPROXY, tmp),
        )

    def proxies(self) -> list[dict[str, object]]:
        """The proxies, named after the service behind each (a cluster's brokers: kafka, kafka-2, ...)."""
        s, t, k = self.settings, self.settings.toxiproxy, self.settings.kafka
        routes = [
            *(
                (
                    "kafka" if n == 1 else f"kafka-{n}",
                    k.node_port(t.kafka_port, n),
                    k.host,
                    k.node_port(k.proxied_port, n),
                )
                for n in k.nodes
            ),
            ("minio", t.s3_port, s.s3.host, s.s3.port),
            ("postgres", t.postgres_port, s.postgres.host, s.postgres.port),
        ]
        return [
            {"name": name, "listen": f"{t.host}:{listen}", "upstream": f"{host}:{port}"}
            for name, listen, host, port in routes
        ]

    @property
    def config_file(self) -> Path:
        return self.home / "proxies.json"

    def prepare(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.config_file.write_bytes(orjson.dumps([{**p, "enabled": True} for p in self.proxies()]))

    def command(self) -> list[str]:
        t = self.settings.toxiproxy
        return [str(self.binary), "-host", t.host, "-port", str(t.port), "-config", str(self.config_file)]

    def check_health(self) -> None:
        httpx.get(f"{self.settings.toxiproxy.url}/version", timeout=2).raise_for_status()

    def provision(self) -> None:
        # Idempotent: creates missing proxies and resets existing ones to their configuration.
        url = f"{self.settings.toxiproxy.url}/populate"
        httpx.post(url, json=self.proxies(), timeout=10).raise_for_status()
