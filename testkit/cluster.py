"""The cluster topology beside the CI's single-node stack: its own state folder, .env and ports.

Every port of the single stack's plus 20,000 (the toxiproxy ones stay below 32,768), so both run at once
and the cluster's faults never touch the single stack's servers.
"""

from __future__ import annotations

import os
from pathlib import Path

PORTS = {
    "KAFKA__PORT": 29092,
    "KAFKA__CONTROLLER_PORT": 29093,
    "KAFKA__PROXIED_PORT": 29094,
    "S3__PORT": 29000,
    "S3__CONSOLE_PORT": 29001,
    "POSTGRES__PORT": 25433,
    "TRINO__PORT": 28080,
    "TRINO__HTTPS_PORT": 28443,
    "TRINO__WORKER_PORT": 28082,
    "TOXIPROXY__PORT": 28474,
    "TOXIPROXY__KAFKA_PORT": 29192,
    "TOXIPROXY__S3_PORT": 29190,
    "TOXIPROXY__POSTGRES_PORT": 25434,
    "SPARK__MASTER_PORT": 27077,
    "SPARK__MASTER_WEBUI_PORT": 28090,
    "SPARK__WORKER_WEBUI_PORT": 28091,
    "DASHBOARD__PORT": 28501,
}


def cluster_env(home: Path) -> dict[str, str]:
    """The variables of a cluster whose state folder is ``home/state`` (its .env lives in ``home``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARMONY_")}
    env.update({f"HARMONY_{name}": str(port) for name, port in PORTS.items()})
    env.update(
        HARMONY_TOPOLOGY="cluster",
        HARMONY_STATE_DIR=str(home / "state"),
        HARMONY_KAFKA__HEAP="256m",
        HARMONY_TRINO__HEAP="768M",
    )
    return env
