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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from rich.console import Console
from rich.table import Table

from lakehouse.catalog import load_catalog
from lakehouse.private_files import open_private, private_dir
from lakehouse.query import live_alerts, trino_sql
from lakehouse.query.lake_state import newest_event
from lakehouse.settings import Settings
from lakehouse.tables import REPORTS, latest_model_card
from lakehouse.terminal import printable

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


# A demo run that finds the lake this close to now has nothing to add: it says so and goes on.
MIN_GAP = timedelta(minutes=10)
# The demo's fleet: a report every 30 s per drone (6 reports a minute in each of the 16 zones with 48
# drones: dense enough for the riot rule to see every injected riot), and drones that wear out in about
# three days, so that a week of history (~1M reports) holds enough failures on both sides of the
# model's split for its figures to mean something.
DEMO_INTERVAL_S = 30.0
DEMO_WEAR_LIFE_DAYS = 3.0
HOLDOUT_DAYS = 1.5  # the failure model's held-out days (the rest trains and calibrates it)


@dataclass(frozen=True)
class Window:
    """The event time a demo run simulates: ``start`` up to ``end`` (never after the wall clock)."""

    start: datetime
    end: datetime
    after: datetime | None  # the lake's newest event when the run goes on from it

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86_400


class LakeInTheFuture(RuntimeError):
    """The lake holds events dated after now (an older version's demo wrote them): only a reset helps."""


def plan_window(newest: datetime | None, now: datetime, days: float) -> Window | None:
    """What to simulate: the last ``days`` up to ``now`` on an empty lake, else from the lake's newest
    event up to ``now`` (at most ``days``); None when the lake is already within :data:`MIN_GAP` of now.

    Event time only moves forward from one run to the next (the riot rule ignores events older than its
    window), and never past the wall clock: the dashboard's "today", freshness and live views describe
    the present."""
    now = now.astimezone(UTC).replace(second=0, microsecond=0)
    earliest = now - timedelta(days=days)
    if newest is None:
        return Window(earliest, now, None)
    if newest > now + MIN_GAP:
        raise LakeInTheFuture(
            f"the lake holds events up to {newest:%Y-%m-%d %H:%M} UTC, after now "
            f"({now:%Y-%m-%d %H:%M}): `harmony demo --reset` starts a new lake"
        )
    if now - newest < MIN_GAP:
        return None
    start = max(earliest, (newest + timedelta(minutes=1)).replace(second=0, microsecond=0))
    return Window(start, now, newest)


def demo_folder(settings: Settings) -> Path:
    """The demo's own files (its runs' ground truth, the processors' logs), one folder per lane."""
    return settings.state_path / "demo" / settings.kafka.reports_topic


def _newest_report(settings: Settings) -> datetime | None:
    return newest_event(load_catalog(settings), REPORTS.identifier(settings))


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def pipeline(settings: Settings, console: Console, days: float, drones: int) -> None:
    window = plan_window(_newest_report(settings), datetime.now(UTC), days)
    truth = demo_folder(settings) / "ground_truth.jsonl"
    truth.parent.mkdir(parents=True, exist_ok=True)
    truth.unlink(missing_ok=True)  # the simulator appends: this file is the run's own
    if window is None:
        console.print(
            "the lake is up to date (its newest report is less than "
            f"{MIN_GAP.total_seconds() / 60:.0f} minutes old): nothing to simulate; "
            "`harmony demo --reset` starts a new lake",
            markup=False,
            highlight=False,
        )
    else:
        if window.after is not None:
            console.print(
                f"the lake goes up to {window.after:%Y-%m-%d %H:%M} UTC: this run adds the "
                f"{window.days:.2f} days since, up to now",
                markup=False,
                highlight=False,
            )
        simulate_and_process(settings, console, window, drones, truth)
    # One Spark session for the answers and the failure model: the JVM warmed up by the first is what
    # makes the second quick.
    _run(
        console,
        f"analyze --maintenance: the four answers, then a failure model (the last {HOLDOUT_DAYS:g} days "
        "held out) and every drone's risk, with Spark",
        ["analyze", "--maintenance", "--holdout-days", f"{HOLDOUT_DAYS:g}"],
    )
    if latest_model_card(load_catalog(settings), settings) is None:
        console.print(
            "  the Fleet health page waits for a model, which needs failures on both sides of its split: "
            f"`harmony demo --reset` makes {days:g} days",
            markup=False,
            highlight=False,
        )
    summary(settings, console, truth, window)
    answers(settings, console)


def simulate_and_process(
    settings: Settings, console: Console, window: Window, drones: int, truth: Path
) -> None:
    """The window's reports into Kafka, then ingest and alerting, each its own process, until caught up."""
    count = int(window.days * 86_400 / DEMO_INTERVAL_S * drones)
    _run(
        console,
        f"simulate: {window.days:.2f} days of a {drones}-drone fleet, "
        f"{window.start:%Y-%m-%d %H:%M} → {window.end:%Y-%m-%d %H:%M} UTC",
        ["simulate", "--start", window.start.strftime("%Y-%m-%dT%H:%M:%S"), "--count", str(max(count, 1)),
         "--drones", str(drones), "--interval", f"{DEMO_INTERVAL_S:g}",
         "--wear-life-days", f"{DEMO_WEAR_LIFE_DAYS:g}", "--ground-truth", str(truth)],
    )  # fmt: skip
    t0 = time.monotonic()
    logs = demo_folder(settings) / "logs"
    private_dir(logs)
    with console.status("ingest and alerting in parallel, until both have caught up"):
        # The alerts' own ingest starts once alerting has raised them all: its idle timeout then ends it
        # as soon as they have landed, not an idle timeout after the rules' last alert.
        first = _start(
            logs,
            {"ingest": ["ingest", "--timeout", "5"], "alerting": ["alert", "--quiet", "--timeout", "5"]},
        )
        _finish(console, logs, first, "alerting")
        second = _start(logs, {"ingest-alerts": ["ingest", "--stream", "alerts", "--timeout", "5"]})
        _finish(console, logs, {**first, **second})
    console.print(f"  caught up in {time.monotonic() - t0:.0f}s")


def _start(logs: Path, jobs: dict[str, list[str]]) -> dict[str, subprocess.Popen[bytes]]:
    procs = {}
    for name, args in jobs.items():
        with open_private(logs / f"demo-{name}.log") as log:
            procs[name] = subprocess.Popen([HARMONY, *args], stdout=log, stderr=subprocess.STDOUT)
    return procs


def _finish(console: Console, logs: Path, procs: dict[str, subprocess.Popen[bytes]], *only: str) -> None:
    """Wait for ``only`` of ``procs`` (all when empty), then print each one's last line; a failure or a
    step stuck for :data:`STEP_TIMEOUT_S` stops the demo (and every process it started)."""
    for name in only or tuple(procs):
        proc = procs[name]
        if proc.returncode is not None and not only:
            continue  # waited for and reported already
        try:
            code = proc.wait(STEP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            for p in procs.values():
                p.kill()
            raise SystemExit(f"demo: {name} did not catch up in {STEP_TIMEOUT_S} s") from None
        if code != 0:
            for p in procs.values():
                p.kill()
            raise SystemExit(f"demo: {name} failed (exit {code}); see {logs / f'demo-{name}.log'}")
        lines = (logs / f"demo-{name}.log").read_text(errors="replace").strip().splitlines()
        console.print("[green]✓[/] ", end="")
        console.print(lines[-1] if lines else name, markup=False, highlight=False)


def summary(settings: Settings, console: Console, truth: Path, window: Window | None) -> None:
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
        if window is not None and a["kind"] == "riot" and a["event_time"] >= window.start
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
        f"this run: {_plural(len(riots), 'riot alert')} in the live view; "
        f"{_plural(len(episodes), 'riot episode')} injected, {alerted:,} of them alerted"
    )
    for a in sorted(riots, key=lambda a: a["event_time"])[-5:]:
        console.print(
            f"  {a['event_time']:%Y-%m-%d %H:%M} {a['severity']:8} {printable(a['reason'])}", markup=False
        )


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
