"""`make demo` from a fresh clone until the dashboard's address is printed: cold and warm.

    .venv/bin/python -m benchmarks.demo [--skip-cold]

Cold (``demo_cold_s``): a fresh clone on what is a fresh machine to it: an empty download cache
(``HARMONY_CACHE_DIR``: Kafka, Trino, MinIO's Go build, PostgreSQL's packages, Toxiproxy, Spark's jars)
and an empty pip cache (``PIP_CACHE_DIR``), so the venv's wheels are downloaded too; no venv, no state.
Warm (``demo_warm_s``): a fresh clone and a new lake, with the caches of this machine. Both run the
README's command (`make demo`) with the clone's own state folder, so a stack of its own is installed and
started; the stack of this checkout is stopped first (the ports are the same) and the clone's stack is
stopped after. The figure is the time from `make` to the line ``dashboard on http://…``; the steps'
own times (the demo's ``✓ … (Ns)`` lines) are kept as details.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import results_file
from testkit.commands import HARMONY

REPO = Path(__file__).resolve().parents[1]
ADDRESS = re.compile(r"dashboard on (http://\S+)")
STEP = re.compile(r"^✓ (.+?) \((\d+)s\)$")
TIMEOUT_S = 1_800


def run_demo(env: dict[str, str], scratch: Path) -> tuple[float, dict[str, int], list[str]]:
    """Clone, `make demo` until the address is printed; returns seconds, step times and the output."""
    clone = scratch / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    t0 = time.monotonic()
    proc = subprocess.Popen(
        ["make", "demo"],
        cwd=clone,
        env={**env, "COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    elapsed = None
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            print(line, end="", flush=True)
            if ADDRESS.search(line):
                elapsed = time.monotonic() - t0
                break
            if time.monotonic() - t0 > TIMEOUT_S:
                break
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(60)
        subprocess.run(
            [str(clone / ".venv" / "bin" / "harmony"), "stack", "down"], cwd=clone, env=env, check=False
        )
    if elapsed is None:
        raise SystemExit("make demo did not print the dashboard's address:\n" + "\n".join(lines[-40:]))
    steps = {m[1]: int(m[2]) for line in lines if (m := STEP.match(line.strip()))}
    return elapsed, steps, lines


def main() -> None:
    skip_cold = "--skip-cold" in sys.argv
    base = {k: v for k, v in os.environ.items() if not k.startswith("HARMONY_")}
    subprocess.run([HARMONY, "stack", "down"], cwd=REPO, check=True, capture_output=True)
    figures: dict[str, float] = {}
    details: dict[str, object] = {}
    if not skip_cold:
        with tempfile.TemporaryDirectory(prefix="harmony-demo-cold-", dir="/var/tmp") as tmp:
            scratch = Path(tmp)
            cold = dict(
                base, HARMONY_CACHE_DIR=str(scratch / "cache"), PIP_CACHE_DIR=str(scratch / "pip-cache")
            )
            figures["demo_cold_s"], details["cold_steps_s"], _ = run_demo(cold, scratch)
    scratch = Path(tempfile.mkdtemp(prefix="harmony-demo-warm-", dir="/var/tmp"))
    try:
        figures["demo_warm_s"], details["warm_steps_s"], lines = run_demo(base, scratch)
        details["warm_summary"] = [line for line in lines if line.startswith(("this run", "weekdays"))]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    results_file.write(
        "demo",
        {
            "command": "make demo",
            "clone": "fresh",
            "cold": not skip_cold,
            "goals_s": {"cold": 600, "warm": 300},
        },
        figures,
        details,
    )


if __name__ == "__main__":
    main()
