"""Where a stream processor keeps its Quix state: a folder of its own under the settings' state path.

Quix creates its state folder with a check-then-create (``StateStoreManager._init_state_dir``: ``exists()``
then ``mkdir(parents=True)`` without ``exist_ok``), and by default in ``state/`` under the working
directory. Two workers of one group started at the same instant raced on that folder and one of them
exited at start (``FileExistsError``), and the folders landed outside ``.harmony/``. So every processor
passes Quix a folder (its public ``state_dir`` setting) that this module has already created, race-free:

``<state path>/quix/<consumer group>/slot-N/<consumer group>``: the first ``slot-N`` no live process
holds, locked with ``flock`` for as long as this process lives, and Quix's own per-group folder inside it
made with ``exist_ok``, so Quix finds it there and creates nothing. Two workers of one group on one
machine never share a slot either: when a partition moved between them, the second could not open its
RocksDB (held by the first's lock). State is restored from the changelog topics whatever the slot;
taking the first free one lets a restarted worker find its state warm. A process keeps its slot across
app rebuilds (the alerting runner rebuilds its app after broker errors).

Checked by ``tests/lakehouse/streaming/test_state.py`` (many processes and many Quix applications
started at the same instant on a new state path) and ``tests/alerting/test_state_slot.py``.
"""

from __future__ import annotations

import fcntl
import itertools
import os
from pathlib import Path

QUIX_FOLDER = "quix"

_SLOTS: dict[Path, Path] = {}  # per state root, the slot this process holds (its lock fd stays open)


def state_slot(root: Path) -> Path:
    """A folder under ``root`` that no other live process uses: the first free ``slot-N``, locked."""
    if root in _SLOTS:
        return _SLOTS[root]
    root.mkdir(parents=True, exist_ok=True)
    for n in itertools.count():
        slot = root / f"slot-{n}"
        slot.mkdir(exist_ok=True)
        fd = os.open(slot / ".lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        _SLOTS[root] = slot
        return slot
    raise AssertionError("unreachable")


def processor_state_dir(state_path: Path, group: str) -> Path:
    """The ``state_dir`` to give Quix for a processor in consumer group ``group``: this process's slot,
    with Quix's per-group folder already in it (Quix would check-then-create it)."""
    slot = state_slot(state_path / QUIX_FOLDER / group)
    (slot / group).mkdir(exist_ok=True)
    return slot
