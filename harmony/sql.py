"""`harmony sql`: one statement on the lake, printed as a table, CSV or JSON."""

from __future__ import annotations

import csv
import sys
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lakehouse.query.engines import QUERY_ERRORS, Engine, Result, run
from lakehouse.settings import get_settings


def _text(value: Any) -> str:
    return "NULL" if value is None else str(value)


def _print(result: Result, fmt: str) -> None:
    if fmt == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(result.columns)
        writer.writerows(result.rows)  # NULL is an empty field
    elif fmt == "json":
        records = [dict(zip(result.columns, row, strict=True)) for row in result.rows]
        sys.stdout.write(orjson.dumps(records, default=str, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        table = Table(*(escape(c) for c in result.columns), show_lines=False)
        for row in result.rows:
            table.add_row(*(escape(_text(v)) for v in row))  # values come from the stream: never markup
        Console().print(table)
        Console(stderr=True).print(
            f"{len(result.rows)} rows in {result.seconds:.2f}s ({result.engine.value})", highlight=False
        )


def sql(
    statement: Annotated[str, typer.Argument(help="the SQL statement, or - to read it from stdin")],
    engine: Annotated[
        Engine, typer.Option(help="trino (the shared server) or duckdb (embedded)")
    ] = Engine.TRINO,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
) -> None:
    """Run one statement on the lake (catalog `lake`; schemas raw and answers) and print the rows."""
    if fmt not in ("table", "csv", "json"):
        raise typer.BadParameter(f"unknown format {fmt!r}; choose table, csv or json")
    text = sys.stdin.read() if statement == "-" else statement
    if not text.strip():
        raise typer.BadParameter("no SQL statement given")
    try:
        result = run(text.strip().rstrip(";"), get_settings(), engine)
    except QUERY_ERRORS as exc:  # an engine's refusal (syntax, missing table, server down) is the answer
        Console(stderr=True).print(f"[red]{engine.value}:[/] {escape(str(exc).strip()[:2000])}")
        raise typer.Exit(1) from None
    _print(result, fmt)
