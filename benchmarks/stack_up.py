"""`harmony stack up` to all four services healthy: cold (empty download cache) and warm (cached).

Run: .venv/bin/python -m benchmarks.stack_up [--skip-cold]
The cold run uses a fresh cache and state folder, so it includes the Maven downloads (Kafka, Trino and
its Iceberg plugin) and the Go build of MinIO; the Python environment is already installed. The running
stack is stopped first, since both runs use the same ports.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import results_file
from testkit.commands import HARMONY


def timed_up(env: dict[str, str]) -> float:
    t0 = time.monotonic()
    subprocess.run([HARMONY, "stack", "up"], env=env, check=True, capture_output=True)
    return time.monotonic() - t0


def main() -> None:
    skip_cold = "--skip-cold" in sys.argv
    base = dict(os.environ)
    subprocess.run([HARMONY, "stack", "down"], env=base, check=True, capture_output=True)
    figures: dict[str, float] = {}
    if not skip_cold:
        scratch = Path(tempfile.mkdtemp(prefix="harmony-cold-", dir="/var/tmp"))
        cold = dict(base, HARMONY_CACHE_DIR=str(scratch / "cache"), HARMONY_STATE_DIR=str(scratch / "state"))
        try:
            figures["stack_up_cold_s"] = timed_up(cold)
        finally:
            subprocess.run([HARMONY, "stack", "down"], env=cold, check=False, capture_output=True)
            shutil.rmtree(scratch, ignore_errors=True)
    # Warm: cached installs, existing data folders, servers stopped: what a developer sees each morning.
    warm = [timed_up(base)]
    for _ in range(2):
        subprocess.run([HARMONY, "stack", "down"], env=base, check=True, capture_output=True)
        warm.append(timed_up(base))
    figures["stack_up_warm_s"] = sorted(warm)[len(warm) // 2]
    figures["stack_up_warm_max_s"] = max(warm)
    results_file.write("stack_up", {"services": 4, "warm_runs": len(warm), "cold": not skip_cold}, figures)


if __name__ == "__main__":
    main()
