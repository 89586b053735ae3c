"""Loaded by a worker started with this folder on PYTHONPATH: the catalog swap's reply is lost.

On the N-th commit of an Iceberg catalog swap (``UPDATE iceberg_tables SET metadata_location``), right
before COMMIT goes to PostgreSQL, Toxiproxy is told to swallow everything PostgreSQL sends back and to close
the connection 200 ms later. PostgreSQL commits; the worker sees the connection die: the outcome-unknown
case. The metadata location the worker tried to swap in is written to a file, so the test can tell that the
commit did land. The toxic is removed 3 s later.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

_AT = int(os.environ["HARMONY_TEST_REPLY_LOST_AT"])
_PROXY = os.environ["HARMONY_TEST_REPLY_LOST_PROXY"]  # .../proxies/postgres
_RECORD = Path(os.environ["HARMONY_TEST_REPLY_LOST_RECORD"])
_passes = 0


@event.listens_for(Engine, "before_cursor_execute")
def _mark_swap(
    conn: Connection, cursor: Any, statement: str, params: Any, context: Any, executemany: bool
) -> None:
    if statement.lstrip().upper().startswith("UPDATE") and "metadata_location" in statement:
        conn.info["swap_to"] = params["metadata_location"]


@event.listens_for(Engine, "commit")
def _lose_reply(conn: Connection) -> None:
    global _passes
    swap_to = conn.info.pop("swap_to", None)
    if swap_to is None:
        return
    _passes += 1
    if _passes != _AT:
        return
    body = {"name": "reply-lost", "type": "timeout", "stream": "downstream", "attributes": {"timeout": 200}}
    httpx.post(f"{_PROXY}/toxics", json=body, timeout=5).raise_for_status()
    _RECORD.write_text(swap_to)
    threading.Timer(3, lambda: httpx.delete(f"{_PROXY}/toxics/reply-lost", timeout=5)).start()
