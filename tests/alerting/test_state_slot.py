"""Each alerting worker on a machine gets a state folder of its own, and keeps it while it lives."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alerting.quix_app import state_slot

HOLD = "import sys, time; from alerting.quix_app import state_slot; from pathlib import Path; " \
       "print(state_slot(Path(sys.argv[1])), flush=True); time.sleep(30)"  # fmt: skip


def test_live_workers_never_share_a_slot_and_a_freed_slot_is_reused(tmp_path: Path) -> None:
    root = tmp_path / "group"
    first = subprocess.Popen([sys.executable, "-c", HOLD, str(root)], stdout=subprocess.PIPE, text=True)
    assert first.stdout is not None
    taken = first.stdout.readline().strip()
    try:
        mine = state_slot(root)
        assert str(mine) != taken, "a live worker's slot is not handed out again"
        assert state_slot(root) == mine, "a process keeps its slot (the app is rebuilt after broker errors)"
    finally:
        first.kill()
        first.wait()
    again = subprocess.run(
        [sys.executable, "-c", HOLD.replace("30", "0"), str(root)], capture_output=True, text=True
    )
    assert again.stdout.strip() == taken, "a dead worker's slot is free again: its state is reused warm"
