"""Dashboard and SQL figures against the real local stack, on the lake the settings point at.

    .venv/bin/python -m benchmarks.dashboard [--loads 5]

Paint: navigation → page done (connected, script idle, no skeleton, its chart present) in headless
Chromium, live refresh off; median of ``--loads`` warm loads per page, and the first load of the slowest
page after the server starts (cold). Memory: the server's resident set after 50 page loads. Queries: each
answer table's query on Trino (as the dashboard user) and on DuckDB in the same run, and an aggregate
over the raw reports on Trino; medians of 5.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks import results_file
from lakehouse.catalog import load_catalog
from lakehouse.query.engines import Engine, run
from lakehouse.query.lake_state import table_state
from lakehouse.settings import get_settings
from lakehouse.tables import REPORTS, Answer
from testkit.browser import DONE_WHEN, Browser, DashboardServer, page_done

# Every page as it opens, and the Answers page's other questions (one question is drawn at a time).
PAGES = {
    **DONE_WHEN,
    "answers_hours_and_zones": ("answers?question=Hours+and+zones", DONE_WHEN["answers"][1]),
    "answers_words": ("answers?question=Words+of+unrest", DONE_WHEN["answers"][1]),
}


def url(base: str, path: str) -> str:
    return f"{base}/{path}{'&' if '?' in path else '?'}live=false"


def median_ms(statement: str, engine: Engine, user: str | None = None, n: int = 5) -> float:
    settings = get_settings()
    catalog = settings.catalog.read_only_name if user else None  # the dashboard user's catalog
    run(statement, settings, engine, user=user, catalog=catalog)  # warm
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        run(statement, settings, engine, user=user, catalog=catalog)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--loads", type=int, default=5)
    args = ap.parse_args()
    settings = get_settings()
    reports = table_state(load_catalog(settings), REPORTS.identifier(settings))
    figures: dict[str, float] = {}

    with (
        tempfile.TemporaryDirectory() as tmp,
        DashboardServer(dict(os.environ), Path(tmp)) as server,
        Browser() as b,
    ):
        cold: dict[str, float] = {}
        warm: dict[str, list[float]] = {name: [] for name in PAGES}
        for name, (path, selector) in PAGES.items():
            page = b.open(url(server.url, path))
            cold[name] = page_done(page, selector)
            page.close()
        loads = len(PAGES)
        for _ in range(args.loads):
            for name, (path, selector) in PAGES.items():
                page = b.context.new_page()
                t0 = time.monotonic()
                page.goto(url(server.url, path))
                page_done(page, selector)
                warm[name].append(time.monotonic() - t0)
                page.close()
                loads += 1
        while loads < 50:
            path, selector = PAGES["overview"]
            page = b.open(url(server.url, path))
            page_done(page, selector)
            page.close()
            loads += 1
        figures["dashboard_memory_mb"] = server.memory_mb()
        for name, times in warm.items():
            figures[f"dashboard_{name}_paint_s"] = statistics.median(times)
        figures["dashboard_cold_paint_s"] = max(cold.values())

    for answer in Answer:
        statement = f"SELECT * FROM {answer.identifier(settings)}"
        figures[f"trino_answer_query_p50_ms_{answer.value}"] = median_ms(
            statement, Engine.TRINO, settings.dashboard.trino_user
        )
        figures[f"duckdb_answer_query_p50_ms_{answer.value}"] = median_ms(statement, Engine.DUCKDB)
    figures["trino_answer_query_p50_ms"] = max(v for k, v in figures.items() if k.startswith("trino_answer_"))
    figures["duckdb_answer_query_p50_ms"] = max(
        v for k, v in figures.items() if k.startswith("duckdb_answer_")
    )
    figures["trino_raw_aggregate_p50_ms"] = median_ms(
        f"SELECT zone, count(*), avg(health.battery_pct) FROM {REPORTS.identifier(settings)} GROUP BY zone",
        Engine.TRINO,
        settings.dashboard.trino_user,
    )
    results_file.write(
        "dashboard",
        {"reports_in_lake": reports.rows if reports else 0, "warm_loads": args.loads, "page_loads": 50},
        figures,
    )


if __name__ == "__main__":
    main()
