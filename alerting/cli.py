"""`harmony alert`: raise riot alerts from the report stream and deliver them."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from rich.console import Console

from lakehouse.settings import get_settings

console = Console(stderr=True)


def alert(
    webhook: Annotated[str | None, typer.Option(help="POST every alert as JSON to this URL")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="no console line per alert")] = False,
    riots_only: Annotated[bool, typer.Option(help="console: print riot alerts only")] = False,
    count: Annotated[
        int | None, typer.Option(help="stop after this many messages (tests, benchmarks)")
    ] = None,
    timeout: Annotated[float | None, typer.Option(help="stop after this many idle seconds")] = None,
) -> None:
    """Run one alerting worker; start more with the same command to scale out (one consumer group)."""
    from alerting.app import build
    from alerting.delivery import ConsoleSink, WebhookSink

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = get_settings()
    options = settings.alerting
    if webhook is not None:
        options = options.model_copy(update={"webhook_url": webhook})
    alerting = build(settings, options, console=not quiet)
    for sink in alerting.sinks:
        if isinstance(sink, ConsoleSink):
            sink.riots_only = riots_only
    rules = settings.rules
    console.print(
        f"alerting: group {options.consumer_group}; low harmony < {rules.low_harmony_threshold:g}; riot = "
        f"{rules.riot_min_citizens} citizens within {rules.riot_window_minutes:g} min in one zone"
    )
    kwargs: dict[str, float | int] = {}
    if count is not None:
        kwargs["count"] = count
    if timeout is not None:
        kwargs["timeout"] = timeout
    try:
        alerting.app.run(**kwargs)  # type: ignore[arg-type]
    finally:
        for sink in alerting.sinks:
            if isinstance(sink, WebhookSink):
                sink.flush()
                sink.close()
    console.print(
        f"alerting: raised {alerting.counts['alerts']:,} alerts, "
        f"dead-lettered {alerting.counts['dead_lettered']:,}"
    )
