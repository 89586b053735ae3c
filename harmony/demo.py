"""`harmony demo`: the main job end to end, each component run as its own process, as in production.

stack up → smoke round trip → simulator backfill → ingest and alerting in parallel (their own consumer
groups) until they have caught up → the four answers → the failure model trained and the fleet scored →
what landed, what was alerted, against the simulator's ground truth.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from rich.console import Console
from rich.table import Table
from trino.exceptions import TrinoUserError

from lakehouse.query import live_alerts, trino_sql
from lakehouse.settings import Settings

HARMONY = str(Path(sys.executable).with_name("harmony"))
# Each demo step is minutes on a 2-core machine; one that takes this long is stuck, not slow.
STEP_TIMEOUT_S = 1_800


def _run(console: Console, title: str, args: list[str], optional: bool = False) -> bool:
    """Run one step; a failing step stops the demo, unless ``optional`` (then it says why and goes on)."""
    t0 = time.monotonic()
    with console.status(title):
        out = subprocess.run(
            [HARMONY, *args], capture_output=True, text=True, check=False, timeout=STEP_TIMEOUT_S,
            env={**os.environ, "COLUMNS": "400"},  # the reason on one line, not wrapped at 80 columns
        )  # fmt: skip
    if out.returncode != 0 and optional:
        why = (out.stderr.strip() or out.stdout.strip() or "no output").splitlines()[-1]
        console.print(f"[yellow]–[/] {title}: skipped: ", end="")
        console.print(why, markup=False, highlight=False)
        return False
    if out.returncode != 0:
        console.print(out.stdout[-3000:], out.stderr[-3000:], markup=False, highlight=False)
        raise SystemExit(f"demo: `harmony {' '.join(args)}` failed (exit {out.returncode})")
    console.print(f"[green]✓[/] {title} ({time.monotonic() - t0:.0f}s)")
    return True


def _next_window(settings: Settings, days: float) -> datetime:
    """The last ``days`` up to now, or, if the lake already holds later events, right after them.

    Event time must move forward from one run to the next: the riot rule treats events older than its
    window (relative to the newest it has seen in a zone) as late and ignores them, as streaming does.
    """
    start = (datetime.now(UTC) - timedelta(days=days)).replace(second=0, microsecond=0)
    try:
        latest = trino_sql.query(
            f"SELECT max(event_time) FROM {settings.catalog.raw_namespace}.reports",  # noqa: S608 (names from settings)
            settings,
        )[0][0]
    except TrinoUserError as exc:
        if exc.error_name != "TABLE_NOT_FOUND":  # anything else is a real problem, not a first run
            raise
        return start
    if latest is not None and latest + timedelta(minutes=1) > start:
        after: datetime = (latest + timedelta(minutes=1)).astimezone(UTC)
        return after.replace(second=0, microsecond=0)
    return start


def pipeline(settings: Settings, console: Console, days: float, drones: int) -> None:
    start = _next_window(settings, days)
    truth = settings.state_path / "demo_ground_truth.jsonl"
    _run(
        console,
        f"simulate: {days:g} days of a {drones}-drone fleet from {start:%Y-%m-%d %H:%M} UTC",
        ["simulate", "--start", start.strftime("%Y-%m-%dT%H:%M:%S"), "--days", str(days),
         "--drones", str(drones), "--ground-truth", str(truth)],
    )  # fmt: skip
    t0 = time.monotonic()
    jobs = {
        "ingest": ["ingest", "--timeout", "10"],
        "ingest-alerts": ["ingest", "--stream", "alerts", "--timeout", "25"],
        "alerting": ["alert", "--quiet", "--timeout", "10"],
    }
    logs = settings.state_path / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with console.status("ingest and alerting in parallel, until both have caught up"):
        procs = {}
        for name, args in jobs.items():
            with (logs / f"demo-{name}.log").open("wb") as log:
                procs[name] = subprocess.Popen([HARMONY, *args], stdout=log, stderr=subprocess.STDOUT)
        for name, proc in procs.items():
            try:
                code = proc.wait(STEP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                for p in procs.values():
                    p.kill()
                raise SystemExit(f"demo: {name} did not catch up in {STEP_TIMEOUT_S} s") from None
            if code != 0:
                raise SystemExit(
                    f"demo: {name} failed (exit {proc.returncode}); see {logs / f'demo-{name}.log'}"
                )
            lines = (logs / f"demo-{name}.log").read_text(errors="replace").strip().splitlines()
            console.print("[green]✓[/] ", end="")
            console.print(lines[-1] if lines else name, markup=False, highlight=False)
    console.print(f"  caught up in {time.monotonic() - t0:.0f}s")
    _run(console, "analyze: the four answers with Spark", ["analyze"])
    # Predictive maintenance: a model needs failures on both sides of its time split; the lake grows by
    # `days` with every demo run, and the held-out part is its last quarter.
    holdout = f"{max(days / 4, 0.5):g}"
    if _run(
        console,
        f"maintenance train: a failure model on the lake, the last {holdout} days held out",
        ["maintenance", "train", "--holdout-days", holdout],
        optional=True,
    ):
        _run(console, "maintenance score: every drone's failure risk", ["maintenance", "score"])
    else:
        console.print(
            "  the Fleet health page waits for a model, which needs about two weeks of reports in the lake: "
            "`harmony demo --days 14` (or more runs of this one)",
            markup=False,
            highlight=False,
        )
    summary(settings, console, truth, start)
    answers(settings, console)


def summary(settings: Settings, console: Console, truth: Path, start: datetime) -> None:
    raw = settings.catalog.raw_namespace
    reports, citizens = trino_sql.query(
        f"SELECT count(*), coalesce(sum(cardinality(citizens)), 0) FROM {raw}.reports",  # noqa: S608 (names from settings)
        settings,
    )[0]
    table = Table(title="The lake (through Trino)")
    table.add_column("table")
    table.add_column("rows", justify="right")
    table.add_row(f"{raw}.reports", f"{reports:,}")
    table.add_row(f"{raw}.citizen_observations", f"{citizens:,}")
    alerts = trino_sql.query(f"SELECT count(*) FROM {raw}.alerts", settings)[0][0]  # noqa: S608 (names from settings)
    table.add_row(f"{raw}.alerts", f"{alerts:,}")
    console.print(table)
    riots = [
        a
        for a in live_alerts.recent(settings, limit=100_000)
        if a["kind"] == "riot" and a["event_time"] >= start
    ]
    lines = truth.read_bytes().splitlines() if truth.exists() else []
    episodes = [e for e in map(orjson.loads, lines) if e.get("kind") == "riot"]
    alerted = sum(
        any(
            a["zone"] == e["zone"]
            and datetime.fromisoformat(e["start"]) <= a["event_time"] <= datetime.fromisoformat(e["end"])
            for a in riots
        )
        for e in episodes
    )
    console.print(
        f"riot alerts in the live view for this run: {len(riots)}; "
        f"episodes injected: {len(episodes)}, of which alerted: {alerted}"
    )
    for a in sorted(riots, key=lambda a: a["event_time"])[-5:]:
        console.print(f"  {a['event_time']:%Y-%m-%d %H:%M} {a['severity']:8} {a['reason']}", markup=False)


def answers(settings: Settings, console: Console) -> None:
    """The headline of each answer, read back through Trino."""
    ns = settings.catalog.answers_namespace
    by_type = trino_sql.query(
        f"SELECT is_weekend, sum(low_score_citizens) * 1.0 / sum(days), sum(riot_alerts) * 1.0 / sum(days) "  # noqa: S608 (names from settings)
        f"FROM {ns}.unrest_by_weekday GROUP BY 1 ORDER BY 1",
        settings,
    )
    for weekend, lows, riots in by_type:
        console.print(
            f"{'weekends' if weekend else 'weekdays'}: {lows:,.0f} low-score citizens "
            f"and {riots:.1f} riots per day"
        )
    peaks = trino_sql.query(
        f"SELECT hour FROM {ns}.unrest_by_hour WHERE is_peak ORDER BY unrest_rank",  # noqa: S608 (names from settings)
        settings,
    )
    console.print("peak hours (UTC): " + ", ".join(f"{h[0]:02d}:00" for h in peaks))
    zones = trino_sql.query(
        f"SELECT zone, riot_alerts, low_score_share FROM {ns}.riskiest_zones ORDER BY risk_rank LIMIT 3",  # noqa: S608 (names from settings)
        settings,
    )
    console.print(
        "riskiest zones: " + "; ".join(f"{z} ({r} riots, {s:.2%} low)" for z, r, s in zones), markup=False
    )
    words = trino_sql.query(
        f"SELECT word, lift FROM {ns}.words_of_unrest ORDER BY lift_rank LIMIT 5",  # noqa: S608 (names from settings)
        settings,
    )
    console.print(
        "words of unrest: " + ", ".join(f"{w} (lift {lift:.0f})" for w, lift in words), markup=False
    )
