"""`harmony analyze` and `harmony lake maintain`: the Spark batch jobs."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lakehouse.settings import get_settings

console = Console(stderr=True)
MasterOpt = Annotated[str, typer.Option(help="Spark master: local[*], spark://host:7077, k8s://https://…")]


def analyze(
    master: MasterOpt = "local[*]",
    incremental: Annotated[
        bool, typer.Option("--incremental", help="only read rows appended since the last run, if that is all")
    ] = False,
) -> None:
    """Answer the four questions from the lake into Iceberg tables under `answers.`."""
    from spark.jobs import LakeUnavailable, source_snapshots
    from spark.jobs import analyze as run
    from spark.session import session

    settings = get_settings()
    t0 = time.monotonic()
    try:
        source_snapshots(settings)  # fail fast, before starting a JVM
    except LakeUnavailable as exc:
        console.print(f"[red]analyze: {escape(str(exc))}[/]")
        raise typer.Exit(1) from exc
    with console.status(f"starting Spark on {master}"):
        spark = session(settings, master, "harmony-analyze")
    console.print(f"Spark {spark.version} on {master} ready in {time.monotonic() - t0:.1f}s")
    with console.status("computing the four answers"):
        result = run(spark, settings, report=lambda m: console.print(f"  ✓ {m}"), incremental=incremental)
    console.print(f"analyze ({result.mode}): {len(result.answers)} answers in {time.monotonic() - t0:.1f}s")
    spark.stop()


lake = typer.Typer(help="Lake housekeeping with Iceberg's Spark procedures.")


@lake.command()
def maintain(
    master: MasterOpt = "local[*]",
    orphan_age_hours: Annotated[float, typer.Option(help="only remove orphan files older than this")] = 24.0,
) -> None:
    """Compact small files, expire old snapshots and remove orphan files on the raw tables."""
    from spark.maintenance import maintain as run
    from spark.session import session

    settings = get_settings()
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
