"""Processors' Quix state folders: one per process, under the state path, safe to create at the same instant.

Server-free: Quix's state manager is initialised as ``Application.run`` initialises it (its public
``StateStoreManager`` with the ``state_dir`` the processors pass), in many processes released at the same
instant on a state path that does not exist yet.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from lakehouse.streaming.state import QUIX_FOLDER, processor_state_dir, state_slot

# One process: wait for the common start instant, then do what a processor does at start.
START = """
import sys, time
from pathlib import Path
from quixstreams import Application
from lakehouse.streaming.state import processor_state_dir
root, group, at = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])
while time.time() < at:
    pass
state_dir = processor_state_dir(root, group)
app = Application(broker_address="127.0.0.1:1", consumer_group=group, state_dir=str(state_dir))
from quixstreams.state import StateStoreManager
StateStoreManager(group_id=group, state_dir=state_dir).init()
print(state_dir, flush=True)
release = Path(sys.argv[4])  # held until every process has its folder: all are alive at once
deadline = time.time() + 120
while not release.exists() and time.time() < deadline:
    time.sleep(0.05)
"""
HOLD = "import sys, time; from lakehouse.streaming.state import state_slot; from pathlib import Path; " \
       "print(state_slot(Path(sys.argv[1])), flush=True); time.sleep(float(sys.argv[2]))"  # fmt: skip


def start_at_once(root: Path, group: str, n: int) -> list[subprocess.CompletedProcess[str]]:
    """``n`` processes released at one instant; each holds its folder until all have printed theirs,
    so the folders compared are those of live processes, however slowly one of them started."""
    at = time.time() + 2.5  # every interpreter has imported Quix by then, on an idle machine
    release = root.parent / "release"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", START, str(root), group, str(at), str(release)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(n)
    ]
    firsts = [p.stdout.readline() if p.stdout is not None else "" for p in procs]
    release.parent.mkdir(parents=True, exist_ok=True)
    release.touch()
    out = []
    for p, first in zip(procs, firsts, strict=True):
        stdout, stderr = p.communicate(timeout=120)
        out.append(subprocess.CompletedProcess(p.args, p.returncode, first + stdout, stderr))
    return out


def test_processes_started_at_the_same_instant_each_get_their_own_folder(tmp_path: Path) -> None:
    """Six processes released at once, three times. The same harness with Quix's own folder creation (its
    state manager on one shared ``state_dir``, as ingest ran before) failed in 4 of 6 processes of one
    release on this machine (``FileExistsError``)."""
    for attempt in range(3):
        root = tmp_path / f"new-{attempt}" / ".harmony"  # not there yet: every process creates it
        results = start_at_once(root, "harmony-ingest-reports", 6)
        for r in results:
            assert r.returncode == 0, f"a process failed at start (attempt {attempt}):\n{r.stderr[-2000:]}"
        folders = [Path(r.stdout.strip()) for r in results]
        assert len(set(folders)) == len(folders), f"two live processes share a folder: {folders}"
        for f in folders:
            assert f.is_relative_to(root / QUIX_FOLDER / "harmony-ingest-reports")
            assert (f / "harmony-ingest-reports").is_dir(), "Quix's own folder is made, not left to Quix"


def test_folder_is_under_the_state_path_and_kept_for_the_process(tmp_path: Path) -> None:
    state = processor_state_dir(tmp_path / "state", "g")
    assert state == tmp_path / "state" / QUIX_FOLDER / "g" / "slot-0"
    assert processor_state_dir(tmp_path / "state", "g") == state, "a rebuilt app keeps its slot"
    assert processor_state_dir(tmp_path / "state", "other") != state, "each group has its own"


def test_live_workers_never_share_a_slot_and_a_freed_slot_is_reused(tmp_path: Path) -> None:
    root = tmp_path / "group"
    first = subprocess.Popen([sys.executable, "-c", HOLD, str(root), "30"], stdout=subprocess.PIPE, text=True)
    assert first.stdout is not None
    taken = first.stdout.readline().strip()
    try:
        mine = state_slot(root)
        assert str(mine) != taken, "a live worker's slot is not handed out again"
        assert state_slot(root) == mine, "a process keeps its slot (the app is rebuilt after broker errors)"
    finally:
        first.kill()
        first.wait()
    again = subprocess.run([sys.executable, "-c", HOLD, str(root), "0"], capture_output=True, text=True)
    assert again.stdout.strip() == taken, "a dead worker's slot is free again: its state is reused warm"
