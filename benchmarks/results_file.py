"""Write a benchmark's figures in the shape ../shared/BENCHMARKS.md asks for."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

import orjson

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> str:
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {round(mem_gib)} GiB"


def write(
    benchmark: str, params: dict[str, Any], figures: dict[str, float], details: dict[str, Any] | None = None
) -> Path:
    """``details``: what explains the figures (per-kind breakdowns, the checker's verdict)."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{benchmark}.json"
    doc = {
        "benchmark": benchmark,
        "date": date.today().isoformat(),
        "machine": machine(),
        "params": params,
        "figures": {k: round(v, 3) for k, v in figures.items()},
    }
    if details is not None:
        doc["details"] = details
    path.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
    print(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())
    return path
