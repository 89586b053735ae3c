"""`harmony simulate`: the drone fleet, live or as a historical backfill, to Kafka or stdout."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from simulator.config import SimulatorConfig
from simulator.episodes import GroundTruth
from simulator.generator import Batch, ReportGenerator

console = Console(stderr=True)


def live(gen: ReportGenerator, rate: float, count: int | None, duration_s: float | None) -> Iterator[Batch]:
    """Reports stamped with the wall clock, paced to ``rate`` per second, drones in turn.

    Small ticks keep the stream steady (a fleet does not report in bursts); 5 ms keeps the per-batch
    overhead of the generator (about 0.3 ms) small at 10,000 reports/s.
    """
    drones = gen.config.drones
    sent, start, ticks = 0, time.monotonic(), 0
    tick = 0.005
    while (count is None or sent < count) and (duration_s is None or time.monotonic() - start < duration_s):
        ticks += 1
        pause = start + ticks * tick - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        due = int((time.monotonic() - start) * rate) - sent
        if count is not None:
            due = min(due, count - sent)
        if due <= 0:
            continue
        due = min(due, 8192)
        seq = np.arange(sent, sent + due)
        yield gen.batch(np.full(due, time.time()), seq % drones)
        sent += due


def simulate(
    seed: Annotated[int, typer.Option(help="same seed, same reports (byte for byte in backfill)")] = 42,
    drones: Annotated[int, typer.Option(help="fleet size")] = 48,
    citizens: Annotated[int, typer.Option(help="population size")] = 20_000,
    start: Annotated[
        datetime | None,
        typer.Option(help="backfill from this UTC date (e.g. 2026-09-01); omit for live mode"),
    ] = None,
    days: Annotated[float | None, typer.Option(help="backfill this many days of event time")] = None,
    count: Annotated[int | None, typer.Option(help="stop after this many reports")] = None,
    duration: Annotated[float | None, typer.Option(help="live mode: stop after this many seconds")] = None,
    rate: Annotated[float, typer.Option(help="live mode: reports per second")] = 100.0,
    interval: Annotated[
        float, typer.Option(help="seconds of event time between two reports of one drone")
    ] = 10.0,
    riots_per_day: Annotated[float, typer.Option(help="mean riot episodes per weekday")] = 2.0,
    citizens_per_report: Annotated[float, typer.Option(help="mean citizens a drone sees per report")] = 4.0,
    weekend_multiplier: Annotated[float, typer.Option(help="unrest at weekends relative to weekdays")] = 1.6,
    topic: Annotated[
        str | None, typer.Option(help="Kafka topic (default: the settings' reports topic)")
    ] = None,
    ground_truth: Annotated[
        Path, typer.Option(help="where to write the injected riot episodes (JSON lines)")
    ] = Path(".harmony/ground_truth.jsonl"),
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="write JSON lines to stdout instead of Kafka")
    ] = False,
) -> None:
    """Simulate the drone fleet and produce its reports (keyed by drone id) to Kafka."""
    config = SimulatorConfig(
        seed=seed,
        drones=drones,
        citizens=citizens,
        report_interval_s=interval,
        riots_per_day=riots_per_day,
        citizens_per_report=citizens_per_report,
        weekend_multiplier=weekend_multiplier,
    )
    backfill = start is not None
    if not backfill and count is None and duration is None and not dry_run:
        console.print("live mode runs until Ctrl-C (use --count or --duration to stop by itself)")
    if not backfill and dry_run and count is None and duration is None:
        raise typer.BadParameter("--dry-run in live mode needs --count or --duration")
    start_utc = None
    if start is not None:
        start_utc = start.replace(tzinfo=UTC) if start.tzinfo is None else start.astimezone(UTC)
    # The random stream is salted with the backfill's start (same arguments, same bytes; another window,
    # other report ids) or, live, with the clock, so two runs never share a report id.
    salt = int(start_utc.timestamp() * 1000) if start_utc is not None else time.time_ns()
    gen = ReportGenerator(config, GroundTruth(ground_truth), id_salt=salt)

    if start_utc is not None:
        if count is None:
            if days is None:
                raise typer.BadParameter("backfill needs --days or --count")
            count = int(days * 86_400 / config.report_interval_s * config.drones)
        batches = gen.backfill(start_utc, count)
        label = f"backfill from {start_utc:%Y-%m-%d} ({count:,} reports)"
    else:
        batches = live(gen, rate, count, duration)
        label = f"live at {rate:,.0f} reports/s"

    if dry_run:
        out = sys.stdout.buffer
        for batch in batches:
            out.write(b"\n".join(batch.values) + b"\n")
        out.flush()
        return

    from lakehouse.settings import get_settings
    from simulator.delivery import ReportProducer, TopicUnavailable

    settings = get_settings()
    # Live reports should leave at once (alert latency); a backfill batches harder for throughput.
    try:
        producer = ReportProducer(
            settings.kafka.bootstrap_servers,
            topic or settings.kafka.reports_topic,
            extra=None if backfill else {"linger.ms": 2},
        )
    except TopicUnavailable as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from exc
    t0 = time.monotonic()
    interrupted = False
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>10,.0f} reports/s"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
    with progress:
        task = progress.add_task(label, total=count, rate=0.0)
        try:
            for batch in batches:
                producer.send(batch.keys, batch.values)
                elapsed = max(time.monotonic() - t0, 1e-9)
                progress.update(
                    task, completed=producer.stats.produced, rate=producer.stats.produced / elapsed
                )
        except KeyboardInterrupt:
            interrupted = True
        progress.update(task, description=label + " · flushing")
        stats = producer.flush()
        elapsed = time.monotonic() - t0
        progress.update(task, completed=stats.produced, rate=stats.delivered / elapsed)
    console.print(
        f"{'interrupted: ' if interrupted else ''}produced {stats.produced:,}, "
        f"delivered {stats.delivered:,}, failed {stats.failed:,}, pending {stats.pending:,} "
        f"in {elapsed:.1f}s "
        f"({stats.delivered / elapsed:,.0f} reports/s) to {producer.topic}; ground truth: {ground_truth}"
    )
    if stats.failed or stats.pending:
        console.print(f"[red]not every report was delivered[/]: {stats.errors}")
        raise typer.Exit(1)
