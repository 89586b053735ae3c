"""`harmony simulate`: the drone fleet, live or as a historical backfill, to Kafka or stdout."""

from __future__ import annotations

import math
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from simulator.config import SimulatorConfig
from simulator.delivery import DeliveryStats
from simulator.episodes import GroundTruth
from simulator.generator import ReportGenerator
from simulator.lanes import Run, run_lanes

if TYPE_CHECKING:
    from simulator.delivery import ReportProducer

console = Console(stderr=True)
FUTURE_TOLERANCE = timedelta(minutes=1)  # clocks of two machines disagree by this much


def simulate(
    seed: Annotated[int, typer.Option(help="same seed, same reports (byte for byte in backfill)")] = 42,
    drones: Annotated[int, typer.Option(help="fleet size")] = 48,
    citizens: Annotated[int, typer.Option(help="population size")] = 20_000,
    start: Annotated[
        datetime | None,
        typer.Option(help="backfill from this UTC date (e.g. 2026-09-01); omit for live mode"),
    ] = None,
    days: Annotated[float | None, typer.Option(help="backfill this many days of event time")] = None,
    count: Annotated[int | None, typer.Option(min=1, help="stop after this many reports")] = None,
    duration: Annotated[float | None, typer.Option(help="live mode: stop after this many seconds")] = None,
    rate: Annotated[float, typer.Option(help="live mode: reports per second")] = 100.0,
    interval: Annotated[
        float, typer.Option(help="seconds of event time between two reports of one drone")
    ] = 10.0,
    riots_per_day: Annotated[float, typer.Option(help="mean riot episodes per weekday")] = 2.0,
    citizens_per_report: Annotated[float, typer.Option(help="mean citizens a drone sees per report")] = 4.0,
    weekend_multiplier: Annotated[float, typer.Option(help="unrest at weekends relative to weekdays")] = 1.6,
    wear_life_days: Annotated[
        float, typer.Option(min=0.01, help="days a drone of average wear flies before it fails")
    ] = SimulatorConfig.model_fields["wear_life_days"].default,
    topic: Annotated[
        str | None, typer.Option(help="Kafka topic (default: the settings' reports topic)")
    ] = None,
    ground_truth: Annotated[
        Path | None,
        typer.Option(
            help="where to write the injected riot episodes (JSON lines; default: ground_truth.jsonl in "
            "the state directory, none with --dry-run)"
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="write JSON lines to stdout instead of Kafka")
    ] = False,
    allow_future: Annotated[
        bool,
        typer.Option("--allow-future", help="let a backfill run past the wall clock (events after now)"),
    ] = False,
    processes: Annotated[
        int,
        typer.Option(
            min=1,
            help="producer processes sharing the fleet by drone, for machines with more cores "
            "(a seed gives the same reports again for the same number of processes)",
        ),
    ] = 1,
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
        wear_life_days=wear_life_days,
    )
    start_utc, count, label = _window(config, start, days, count, duration, rate, dry_run, allow_future)
    if processes > 1:
        if dry_run:
            raise typer.BadParameter("--dry-run writes one stream: use it with --processes 1")
        label += f" · {processes} processes"
    # The random stream is salted with the backfill's start (same arguments, same bytes; another window,
    # other report ids) or, live, with the clock, so two runs never share a report id.
    salt = int(start_utc.timestamp() * 1000) if start_utc is not None else time.time_ns()

    from lakehouse.settings import get_settings
    from simulator.delivery import TopicUnavailable

    settings = None if dry_run else get_settings()  # a dry run needs no settings (nor credentials)
    kafka = None if settings is None else settings.kafka
    if ground_truth is None and settings is not None:
        ground_truth = settings.state_path / "ground_truth.jsonl"  # not the working directory's
    run = Run(
        config=config,
        salt=salt,
        start=start_utc,
        count=count,
        duration_s=duration,
        rate=rate,
        ground_truth=ground_truth or Path(os.devnull),  # read by producer lanes only, never a dry run
        kafka_client={} if kafka is None else kafka.client(),
        topic=topic or ("" if kafka is None else kafka.reports_topic),
    )
    if dry_run:
        _write_to_stdout(run, GroundTruth(ground_truth))
        return
    try:
        producer = run.producer()  # connects and checks the topic before anything runs
    except TopicUnavailable as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(1) from exc
    stats, interrupted, elapsed = _produce(run, producer, processes, label, GroundTruth(ground_truth))
    console.print(
        f"{'interrupted: ' if interrupted else ''}produced {stats.produced:,}, "
        f"delivered {stats.delivered:,}, failed {stats.failed:,}, pending {stats.pending:,} "
        f"in {elapsed:.1f}s "
        f"({stats.delivered / elapsed:,.0f} reports/s) to {producer.topic}; ground truth: {ground_truth}"
    )
    if stats.failed or stats.pending or stats.errors:
        console.print(f"[red]not every report was delivered[/]: {stats.errors}")
        raise typer.Exit(1)


def _window(
    config: SimulatorConfig,
    start: datetime | None,
    days: float | None,
    count: int | None,
    duration: float | None,
    rate: float,
    dry_run: bool,
    allow_future: bool,
) -> tuple[datetime | None, int | None, str]:
    """The run's window from its options: (start in UTC or None when live, reports or None, its label).
    A backfill needs a size and must not run past the wall clock; live needs a sane rate."""
    if start is None:
        if count is None and duration is None and not dry_run:
            console.print("live mode runs until Ctrl-C (use --count or --duration to stop by itself)")
        if not (math.isfinite(rate) and rate > 0):
            raise typer.BadParameter(f"--rate must be a positive number of reports per second, not {rate}")
        if dry_run and count is None and duration is None:
            raise typer.BadParameter("--dry-run in live mode needs --count or --duration")
        return None, count, f"live at {rate:,.0f} reports/s"
    start_utc = start.replace(tzinfo=UTC) if start.tzinfo is None else start.astimezone(UTC)
    if count is None:
        if days is None:
            raise typer.BadParameter("backfill needs --days or --count")
        count = int(days * 86_400 / config.report_interval_s * config.drones)
    end = start_utc + timedelta(seconds=count * config.report_interval_s / config.drones)
    if end > datetime.now(UTC) + FUTURE_TOLERANCE and not allow_future:
        raise typer.BadParameter(
            f"this backfill would end at {end:%Y-%m-%d %H:%M} UTC, after now: its events would lie in "
            "the future (fewer --days or --count, an earlier --start, or --allow-future)"
        )
    return start_utc, count, f"backfill from {start_utc:%Y-%m-%d} ({count:,} reports)"


def _write_to_stdout(run: Run, truth: GroundTruth) -> None:
    """A dry run: the reports as JSON lines on stdout, one process, nothing sent."""
    out = sys.stdout.buffer
    for batch in run.batches(ReportGenerator(run.config, truth, id_salt=run.salt), 1):
        out.write(b"\n".join(batch.values) + b"\n")
    out.flush()


def _produce(
    run: Run, producer: ReportProducer, processes: int, label: str, truth: GroundTruth
) -> tuple[DeliveryStats, bool, float]:
    """Produce the run under a progress bar, in this process or in ``processes`` lanes; Ctrl-C stops it
    and flushes what was sent. (stats, interrupted, seconds)."""
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
        task = progress.add_task(label, total=run.count, rate=0.0)

        def show(stats: DeliveryStats) -> None:
            elapsed = max(time.monotonic() - t0, 1e-9)
            progress.update(task, completed=stats.produced, rate=stats.produced / elapsed)

        if processes > 1:
            stats, interrupted = run_lanes(run, processes, show)
        else:
            gen = ReportGenerator(run.config, truth, id_salt=run.salt)
            try:
                for batch in run.batches(gen, 1):
                    producer.send(batch.keys, batch.values)
                    show(producer.stats)
            except KeyboardInterrupt:
                interrupted = True
            progress.update(task, description=label + " · flushing")
            stats = producer.flush()
        elapsed = time.monotonic() - t0
        progress.update(task, completed=stats.produced, rate=stats.delivered / elapsed)
    return stats, interrupted, elapsed
