"""`harmony dashboard`: serve the Streamlit app on this machine."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from lakehouse.settings import get_settings

APP = Path(__file__).with_name("app.py")


def command(port: int, host: str) -> list[str]:
    """The Streamlit server for the app: headless, no telemetry, nothing fetched from outside."""
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.address", host,
        "--server.port", str(port),
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "minimal",
        "--theme.base", "light",
    ]  # fmt: skip


def dashboard(
    port: Annotated[int | None, typer.Option(help="port (default: the settings')")] = None,
    host: Annotated[str | None, typer.Option(help="address to listen on (default: 127.0.0.1)")] = None,
) -> None:
    """Serve the dashboard (Overview, Answers, Live alerts, Fleet health, Explore) until Ctrl-C."""
    settings = get_settings()
    d = settings.dashboard
    port, host = port or d.port, host or d.host
    typer.echo(f"dashboard on http://{host}:{port}  (Ctrl-C stops it)")
    sys.stdout.flush()
    # Become the server (not its parent): a stop signal reaches Streamlit itself, and no orphan is left
    # serving when whoever started `harmony dashboard` stops it.
    # It runs with the read-only identities in place of the platform's (MinIO, PostgreSQL): nothing
    # behind a page holds a key that can write the lake.
    argv = command(port, host)
    os.execve(argv[0], argv, {**os.environ, **settings.reader_environment()})  # noqa: S606 (our own interpreter)
