"""`harmony analyze`, `harmony lake maintain` and `harmony maintenance`: the Spark batch jobs."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

from lakehouse.failure_model import ModelCard
from lakehouse.settings import Settings, get_settings
from lakehouse.terminal import printable

console = Console(stderr=True)
MasterOpt = Annotated[
    str | None,
    typer.Option(
        help="Spark master: local[*], spark://host:7077, k8s://https://… (default: the stack's standalone "
        "master in the cluster topology, else local[*])"
    ),
]


def analyze(
    master: MasterOpt = None,
    incremental: Annotated[
        bool, typer.Option("--incremental", help="only read rows appended since the last run, if that is all")
    ] = False,
    with_maintenance: Annotated[
        bool,
        typer.Option(
            "--maintenance",
            help="then train the failure model and score the fleet in the same Spark session "
            "(`maintenance train --score`; skipped with the reason when the lake holds too few failures)",
        ),
    ] = False,
    holdout_days: Annotated[
        float, typer.Option(help="with --maintenance: the last days of data, held out for evaluation")
    ] = 7.0,
) -> None:
    """Answer the four questions from the lake into Iceberg tables under `answers.`."""
    from spark.failure_training import NotEnoughData
    from spark.jobs import LakeUnavailable, source_snapshots
    from spark.jobs import analyze as run
    from spark.session import session

    settings = get_settings()
    t0 = time.monotonic()
    try:
        source_snapshots(settings)  # fail fast, before starting a JVM
    except LakeUnavailable as exc:
        console.print(f"[red]analyze: {escape(str(exc))}[/]", soft_wrap=True)
        raise typer.Exit(1) from exc
    master = master or settings.spark.default_master
    with console.status(f"starting Spark on {master}"):
        spark = session(settings, master, "harmony-analyze")
    console.print(f"Spark {spark.version} on {master} ready in {time.monotonic() - t0:.1f}s")
    try:
        with console.status("computing the four answers"):
            result = run(spark, settings, report=lambda m: console.print(f"  ✓ {m}"), incremental=incremental)
        console.print(
            f"analyze ({result.mode}): {len(result.answers)} answers in {time.monotonic() - t0:.1f}s"
        )
        if with_maintenance:
            t1 = time.monotonic()
            try:
                _train(spark, settings, holdout_days)
                _score(spark, settings, 10)
            except NotEnoughData as exc:  # the answers are there: a model is for a longer lake
                console.print(f"[yellow]maintenance skipped:[/] {escape(str(exc))}")
            console.print(f"maintenance: {time.monotonic() - t1:.1f}s")
    finally:
        spark.stop()


lake = typer.Typer(help="Lake housekeeping with Iceberg's Spark procedures.")


@lake.command()
def maintain(
    master: MasterOpt = None,
    orphan_age_hours: Annotated[float, typer.Option(help="only remove orphan files older than this")] = 24.0,
) -> None:
    """Compact small files, expire old snapshots and remove orphan files on the raw tables."""
    from spark.maintenance import maintain as run
    from spark.session import session

    settings = get_settings()
    from spark.maintenance import nothing_to_maintain

    if (nothing := nothing_to_maintain(settings)) is not None:  # before a JVM: nothing to do is no error
        console.print(nothing, markup=False, soft_wrap=True)
        return
    master = master or settings.spark.default_master
    with console.status(f"starting Spark on {master}"):
        spark = session(settings, master, "harmony-maintain")
    with console.status("compacting files and manifests, expiring, removing orphans"):
        runs = run(spark, settings, orphan_age_hours)
    table = Table(title="lake maintenance")
    columns = (
        "table",
        "files before",
        "files after",
        "rows before",
        "rows after",
        "files rewritten",
        "files added",
        "manifests rewritten",
        "manifests added",
    )
    for col in columns:
        table.add_column(col, justify="left" if col == "table" else "right")
    for r in runs:
        table.add_row(
            r.table,
            *(
                f"{v:,}"
                for v in (
                    r.files_before,
                    r.files_after,
                    r.rows_before,
                    r.rows_after,
                    r.rewritten,
                    r.added,
                    r.manifests_rewritten,
                    r.manifests_added,
                )
            ),
        )
    Console().print(table)
    spark.stop()


maintenance = typer.Typer(
    help="Predictive maintenance: learn drone failures from telemetry, score the fleet."
)


def _interval(card: ModelCard, name: str, value: float, digits: int = 3) -> str:
    low, high = orjson.loads(card.intervals).get(name, (None, None)) if card.intervals else (None, None)
    shown = f"{value:.{digits}f}"
    return shown if low is None else f"{shown} ({low:.{digits}f}–{high:.{digits}f})"


def print_card(card: ModelCard) -> None:
    """The card as a person reads it: the figures beside the battery rule's, with 90 % intervals."""
    table = Table(
        title=f"failure model v{card.version} (held out from {card.holdout_start:%Y-%m-%d %H:%M} UTC)"
    )
    for col in ("", "PR-AUC", "threshold", "precision", "recall"):
        table.add_column(col, justify="left" if not col else "right")
    table.add_row(
        "model",
        _interval(card, "pr_auc", card.pr_auc),
        f"risk ≥ {card.threshold:.2f}",
        _interval(card, "precision", card.precision, 2),
        _interval(card, "recall", card.recall, 2),
    )
    table.add_row(
        "baseline (battery rule)",
        _interval(card, "baseline_pr_auc", card.baseline_pr_auc),
        f"battery ≤ {card.baseline_threshold:.0f} %",
        _interval(card, "baseline_precision", card.baseline_precision, 2),
        _interval(card, "baseline_recall", card.baseline_recall, 2),
    )
    Console().print(table)
    lead = f"{card.lead_time_median_h:.1f} h" if card.lead_time_median_h is not None else "-"
    ratio = card.calibration_ratio
    console.print(
        f"{card.failures_warned} of {card.failures_evaluated} held-out failures were warned before they came "
        f"(median lead time {lead}); expected {card.expected_positives or 0:,.0f} failing drone-hours, "
        f"observed {card.observed_positives or 0:,}"
        + (f" (ratio {_interval(card, 'calibration_ratio', ratio, 2)})" if ratio is not None else ""),
        markup=False,
        highlight=False,
    )
    console.print(card.assessment or "", markup=False, highlight=False)
    console.print(f"saved to {card.model_path}", markup=False, highlight=False)


@maintenance.command()
def train(
    master: MasterOpt = None,
    holdout_days: Annotated[float, typer.Option(help="the last days of data, held out for evaluation")] = 7.0,
    then_score: Annotated[
        bool, typer.Option("--score", help="then score the fleet with it (`maintenance score`), same session")
    ] = False,
) -> None:
    """Train a failure model on the lake, calibrate it, evaluate it on held-out days, save it as a new
    version (the stream scores with it within minutes)."""
    from spark.failure_training import NotEnoughData, reports_snapshot
    from spark.jobs import LakeUnavailable
    from spark.session import session

    settings = get_settings()
    t0 = time.monotonic()
    try:
        reports_snapshot(settings)  # fail fast, before starting a JVM
    except LakeUnavailable as exc:
        console.print(f"[red]maintenance train: {escape(str(exc))}[/]", soft_wrap=True)
        raise typer.Exit(1) from exc
    master = master or settings.spark.default_master
    with console.status(f"starting Spark on {master}"):
        spark = session(settings, master, "harmony-maintenance-train")
    try:
        _train(spark, settings, holdout_days)
        if then_score:
            _score(spark, settings, 10)
    except (NotEnoughData, LakeUnavailable) as exc:
        console.print(f"[red]maintenance train: {escape(str(exc))}[/]", soft_wrap=True)
        raise typer.Exit(1) from exc
    finally:
        spark.stop()
    console.print(f"maintenance train: {time.monotonic() - t0:.1f}s")


def _train(spark: SparkSession, settings: Settings, holdout_days: float) -> ModelCard:
    from spark.failure_training import train as run

    with console.status("features, labels, training, calibration, evaluation"):
        card = run(spark, settings, holdout_days, report=lambda m: console.print(f"  ✓ {escape(m)}"))
    print_card(card)
    return card


@maintenance.command()
def score(master: MasterOpt = None, top: Annotated[int, typer.Option(help="rows to print")] = 10) -> None:
    """Score every drone with the newest model into `answers.drone_risk`."""
    from lakehouse.catalog import load_catalog
    from lakehouse.tables import latest_model_card
    from spark.failure_training import NotEnoughData, reports_snapshot
    from spark.jobs import LakeUnavailable
    from spark.session import session

    settings = get_settings()
    try:  # fail fast, before starting a JVM
        reports_snapshot(settings)
        if latest_model_card(load_catalog(settings), settings) is None:
            raise NotEnoughData("no model yet: run `harmony maintenance train` first")
    except (NotEnoughData, LakeUnavailable) as exc:
        console.print(f"[red]maintenance score: {escape(str(exc))}[/]", soft_wrap=True)
        raise typer.Exit(1) from exc
    master = master or settings.spark.default_master
    with console.status(f"starting Spark on {master}"):
        spark = session(settings, master, "harmony-maintenance-score")
    try:
        _score(spark, settings, top)
    except (NotEnoughData, LakeUnavailable) as exc:
        console.print(f"[red]maintenance score: {escape(str(exc))}[/]", soft_wrap=True)
        raise typer.Exit(1) from exc
    finally:
        spark.stop()


def _score(spark: SparkSession, settings: Settings, top: int) -> None:
    from spark.failure_training import score as run

    with console.status("scoring the fleet"):
        risks = run(spark, settings)
    expected = sum(r.risk for r in risks)
    table = Table(
        title=f"drone risk ({len(risks)} drones, {sum(r.at_risk for r in risks)} at risk; "
        f"{expected:.1f} failures expected in the next 24 h)"
    )
    for col in ("drone", "zone", "risk", "battery %", "fade", "motor °C", "dropouts", "as of"):
        table.add_column(col, justify="left" if col in ("drone", "zone") else "right")
    for r in risks[:top]:
        table.add_row(
            escape(printable(r.drone_id)),
            escape(printable(r.zone or "-")),
            f"[red]{r.risk:.2f}[/]" if r.at_risk else f"{r.risk:.2f}",
            f"{r.battery_level:.1f}",
            f"{r.battery_fade:.1f}",
            f"{r.temp_level:.1f}",
            f"{r.dropout_rate:.0%}",
            f"{r.as_of:%Y-%m-%d %H:%M}",
        )
    Console().print(table)
