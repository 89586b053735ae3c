"""The `harmony` executable the tests and benchmarks run (next to this interpreter in the project's .venv),
and the simulator's call when only the reports matter."""

from __future__ import annotations

import sys
from pathlib import Path

HARMONY = str(Path(sys.executable).with_name("harmony"))


def simulate(*args: str) -> list[str]:
    """`harmony simulate` without a ground-truth file (a benchmark needs the reports, not the episodes)."""
    return [HARMONY, "simulate", "--ground-truth", "/dev/null", *args]
