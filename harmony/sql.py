"""`harmony sql`: one statement on the lake, printed as a table, CSV or JSON."""

from __future__ import annotations

import csv
import sys
from typing import Annotated, Any

import orjson
import trino.exceptions
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lakehouse.catalog import load_catalog
from lakehouse.export import spreadsheet_cell
from lakehouse.query.engines import QUERY_ERRORS, Engine, Result, run
from lakehouse.settings import Settings, get_settings
from lakehouse.tables import namespaces_named
from lakehouse.terminal import printable

FIRST = "run `harmony demo` (or `harmony ingest` / `harmony analyze`) first"


def _text(value: Any) -> str:
    return "NULL" if value is None else str(value)


def _print(result: Result, fmt: str) -> None:
    if fmt == "csv":
        # Text cells are never formulas (``lakehouse.export``); on a terminal, never control sequences.
        cell = (lambda v: printable(spreadsheet_cell(v))) if sys.stdout.isatty() else spreadsheet_cell
        writer = csv.writer(sys.stdout)
        writer.writerow([cell(c) for c in result.columns])
        writer.writerows([cell(v) if v is not None else None for v in row] for row in result.rows)
    elif fmt == "json":
        records = [dict(zip(result.columns, row, strict=True)) for row in result.rows]
        sys.stdout.write(orjson.dumps(records, default=str, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        table = Table(*(escape(printable(c)) for c in result.columns), show_lines=False)
        for row in result.rows:
            # values come from the stream: never markup, never a terminal's control sequence
            table.add_row(*(escape(printable(_text(v))) for v in row))
        Console(emoji=False).print(table)  # ":smile:" in a value stays those seven characters
        Console(stderr=True).print(
            f"{len(result.rows)} rows in {result.seconds:.2f}s ({result.engine.value})", highlight=False
        )


def one_line(exc: Exception) -> str:
    """The engine's own message in one line: Trino's without the error object around it, DuckDB's
    without the caret block under it."""
    if isinstance(exc, trino.exceptions.TrinoQueryError) and exc.message:
        text = exc.message
    else:
        text = str(exc).strip()
    return " ".join(text.splitlines()[0].split()) if text else type(exc).__name__


def missing_namespaces(statement: str, settings: Settings) -> list[str]:
    """The lake's namespaces the statement names that the catalog does not hold: a lane never filled.
    Asked of the catalog (not read from the engine's error); no answer is no hint."""
    named = namespaces_named(statement, settings)
    if not named:
        return []
    try:
        catalog = load_catalog(settings)
        return [ns for ns in named if not catalog.namespace_exists(ns)]
    except Exception:  # only a hint: the engine's error is already the answer
        return []


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
    settings = get_settings()
    try:
        result = run(text.strip().rstrip(";"), settings, engine)
    except QUERY_ERRORS as exc:  # an engine's refusal (syntax, missing table, server down) is the answer
        missing = missing_namespaces(text, settings)
        hint = f"; the lake has no {' or '.join(missing)} namespace yet: {FIRST}" if missing else ""
        Console(stderr=True).print(
            f"[red]{engine.value}:[/] {escape(one_line(exc)[:2000])}{escape(hint)}",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1) from None
    _print(result, fmt)
