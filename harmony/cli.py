"""The `harmony` console entry point.

This is the composition root: the one module that imports every component's CLI, so components never
import each other.
"""

from __future__ import annotations

import typer

from lakehouse.settings import SettingsError
from stack.cli import app as stack_app

app = typer.Typer(help="Harmony Lakehouse: drone reports → Kafka → Iceberg → answers.", no_args_is_help=True)
app.add_typer(stack_app, name="stack")


def main() -> None:
    try:
        app()
    except SettingsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from exc
