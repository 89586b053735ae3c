"""Failpoints: crash the process at a named step of the commit protocol, for the reliability tests.

``HARMONY_FAILPOINTS=ingest.after_catalog_swap`` (comma-separated names, each optionally ``name@N`` to
crash on its N-th pass) makes the process kill itself with SIGKILL there, as a power cut would: no
``finally`` blocks, no flushes. Unset, a failpoint costs one dictionary lookup.

The steps, in the order of the commit protocol: ``ingest.before_data_files``, ``ingest.after_data_files``,
``ingest.after_metadata_file``, ``ingest.after_catalog_swap`` (``ingest/writer.py``),
``ingest.before_kafka_commit`` (``ingest/sink.py``).
"""

from __future__ import annotations

import os
import signal
from collections import Counter

_ARMED: dict[str, int] = {}
for _spec in filter(None, os.environ.get("HARMONY_FAILPOINTS", "").split(",")):
    _name, _, _nth = _spec.strip().partition("@")
    _ARMED[_name] = int(_nth or 1)
_PASSES: Counter[str] = Counter()


def armed(name: str) -> bool:
    return name in _ARMED


def failpoint(name: str) -> None:
    """Die here (SIGKILL) if the environment armed ``name`` and this is its N-th pass."""
    if name not in _ARMED:
        return
    _PASSES[name] += 1
    if _PASSES[name] >= _ARMED[name]:
        os.kill(os.getpid(), signal.SIGKILL)
