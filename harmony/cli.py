"""The `harmony` console entry point.

This is the composition root: the one module that imports every component's CLI, so components never
import each other.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from alerting.cli import alert
from dashboard.cli import dashboard
from harmony.sql import sql
from ingest import cli as ingest_cli
from lakehouse.settings import SettingsError, get_settings
from simulator.cli import simulate
from spark.cli import analyze, lake, maintenance
from stack import cli as stack_cli

app = typer.Typer(help="Harmony Lakehouse: drone reports → Kafka → Iceberg → answers.", no_args_is_help=True)
app.add_typer(stack_cli.app, name="stack")
app.add_typer(stack_cli.images, name="images")
app.command()(simulate)
app.add_typer(ingest_cli.app, name="ingest")
app.command()(alert)
app.command()(analyze)
app.add_typer(lake, name="lake")
app.add_typer(maintenance, name="maintenance")
app.command()(sql)
app.command()(dashboard)
console = Console(stderr=True)


@app.command()
def demo(
    days: Annotated[
        float, typer.Option(min=0.01, help="days of history up to now on a new lake (at most, after that)")
    ] = 7.0,
    drones: Annotated[int, typer.Option(min=1, help="fleet size")] = 48,
    serve: Annotated[bool, typer.Option(help="end by serving the dashboard until Ctrl-C")] = True,
    reset: Annotated[
        bool, typer.Option("--reset", help="start over: remove the lake, topics, groups, live alerts first")
    ] = False,
) -> None:
    """The main job end to end: stack up, simulate up to now, ingest, alert, analyse, train and score the
    failure model, then the dashboard. Run again, it adds the time since its last run."""
    from harmony import smoke
    from harmony.demo import LakeInTheFuture, pipeline

    stack_cli.up()
    settings = get_settings()
    if reset:
        from harmony.reset import reset as reset_lane

        with console.status("removing the lake, topics, consumer groups and live alerts"):
            reset_lane(settings, lambda m: console.print(f"[green]✓[/] {m}", markup=True, highlight=False))
    steps = [
        ("Kafka produce → consume", smoke.kafka_round_trip),
        ("MinIO put → get", smoke.s3_round_trip),
        ("pyiceberg append → DuckDB and Trino read", smoke.lake_round_trip),
    ]
    for title, step in steps:
        with console.status(title):
            step(settings)
        console.print(f"[green]✓[/] {title}")
    try:
        pipeline(settings, console, days, drones)
    except LakeInTheFuture as exc:
        console.print(f"demo: {exc}", markup=False, highlight=False)
        raise SystemExit(1) from exc
    if serve:
        dashboard()


def main() -> None:
    try:
        app()
    except SettingsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from exc
