"""The same benchmarks on two commits, in one run: what a change costs, measured side by side.

    .venv/bin/python -m benchmarks.before_after <name> <baseline commit> [--only alerting_latency ...]

Checks the baseline out into a temporary worktree and runs, for the baseline and then for this checkout,
on the same stack one after the other: the alert latency at 10,000 reports/s, the flood capacity
(``--riots-per-day 2000``) and ingest's throughput. The baseline runs with its own code first on the
import path (``PYTHONPATH``, inherited by every `harmony` it starts), this checkout's venv for the
libraries. Each side writes its own results files; the figures of both go to
``benchmarks/results/<name>.json`` with the ratio after/before.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson

from benchmarks import results_file

ROOT = Path(__file__).resolve().parents[1]
# (results file, figure, the benchmark's arguments)
RUNS = [
    ("alerting_latency", "alert_latency_p99_ms", ["benchmarks.alerting", "latency"]),
    ("alerting_capacity_riots_2000", "alert_max_flood_reports_per_s",
     ["benchmarks.alerting", "capacity", "--riots-per-day", "2000"]),
    ("ingest", "ingest_reports_per_s", ["benchmarks.ingest", "throughput"]),
]  # fmt: skip


def _run(tree: Path, args: list[str], extra: list[str]) -> None:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, "-m", *args, *extra], cwd=tree, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed in {tree} (exit {done.returncode})")


def _figures(tree: Path, name: str) -> dict[str, float]:
    doc = orjson.loads((tree / "benchmarks" / "results" / f"{name}.json").read_bytes())
    return dict(doc["figures"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("name", help="the results file of the comparison")
    ap.add_argument("baseline", help="the commit before the change")
    ap.add_argument("--ingest-reports", type=int, default=2_000_000)
    ap.add_argument("--capacity-reports", type=int, default=600_000)
    ap.add_argument(
        "--only", nargs="+", choices=[name for name, _, _ in RUNS], help="these benchmarks (default: all)"
    )
    args = ap.parse_args()
    runs = [run for run in RUNS if not args.only or run[0] in args.only]
    extra = {
        "alerting_latency": [],
        "alerting_capacity_riots_2000": ["--reports", str(args.capacity_reports)],
        "ingest": ["--reports", str(args.ingest_reports)],
    }
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "baseline"
        subprocess.run(
            ["git", "worktree", "add", "-q", "--detach", str(base), args.baseline], cwd=ROOT, check=True
        )
        if (ROOT / ".env").exists():  # the stack's credentials (git-ignored, mode 0600 kept)
            shutil.copy2(ROOT / ".env", base / ".env")
        try:
            figures: dict[str, float] = {}
            for name, figure, bench in runs:
                for side, tree in (("before", base), ("after", ROOT)):
                    _run(tree, bench, extra[name])
                    figures[f"{figure}_{side}"] = _figures(tree, name)[figure]
                figures[f"{figure}_ratio"] = figures[f"{figure}_after"] / figures[f"{figure}_before"]
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT, check=False)
    results_file.write(
        args.name,
        {
            "baseline": args.baseline,
            "after": subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
            ).stdout.strip(),
            "ingest_reports": args.ingest_reports,
            "capacity_reports": args.capacity_reports,
            "benchmarks": [name for name, _, _ in runs],
            "order": "per benchmark: baseline, then this checkout, on the same stack",
        },
        figures,
    )


if __name__ == "__main__":
    main()
