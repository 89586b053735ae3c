"""`harmony alert`: raise riot alerts from the report stream and deliver them to people."""

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
    role: Annotated[
        str,
        typer.Option(help="both: rules and delivery; rules: reports → alerts topic; delivery: topic → sinks"),
    ] = "both",
    count: Annotated[
        int | None, typer.Option(help="stop after this many messages (tests, benchmarks)")
    ] = None,
    timeout: Annotated[float | None, typer.Option(help="stop after this many idle seconds")] = None,
) -> None:
    """Run one alerting worker; start more with the same command to scale out (one group per role)."""
    from alerting.runner import Limits, Role, run_both, run_delivery, run_rules

    try:
        chosen = Role(role)
    except ValueError:
        raise typer.BadParameter(f"--role must be one of {', '.join(r.value for r in Role)}") from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = get_settings()
    options = settings.alerting
    if webhook is not None:
        options = options.model_copy(update={"webhook_url": webhook})
    rules = settings.rules
    limits = Limits(count, timeout)
    if chosen != Role.DELIVERY:
        console.print(
            f"alerting: group {options.consumer_group}; low harmony < {rules.low_harmony_threshold:g}; riot "
            f"= {rules.riot_min_citizens} citizens within {rules.riot_window_minutes:g} min in one zone"
        )
    if chosen != Role.RULES:
        sinks = ["PostgreSQL"] + (["webhook"] if options.webhook_url else []) + ([] if quiet else ["console"])
        console.print(f"delivery: group {options.delivery_group} → {', '.join(sinks)}")
    if chosen == Role.RULES:
        outcome = run_rules(settings, options, limits)
    elif chosen == Role.DELIVERY:
        outcome = run_delivery(settings, options, not quiet, riots_only, limits)
    else:
        outcome = run_both(settings, options, not quiet, riots_only, limits)
    console.print(
        f"alerting: raised {outcome.alerts:,} alerts, dead-lettered {outcome.dead_lettered:,}"
        + (f", {outcome.undelivered:,} not yet delivered" if outcome.undelivered else "")
    )
