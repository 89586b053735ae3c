"""`harmony alert`: raise riot alerts from the report stream and deliver them to people."""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from lakehouse.settings import get_settings
from lakehouse.stopping import STOP

console = Console(stderr=True)


class Role(StrEnum):
    BOTH = "both"  # the rules worker, with a delivery worker beside it
    RULES = "rules"  # reports → alerts topic
    DELIVERY = "delivery"  # alerts topic → PostgreSQL, webhook, console


def alert(
    webhook: Annotated[str | None, typer.Option(help="POST every alert as JSON to this URL")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="no console line per alert")] = False,
    riots_only: Annotated[
        bool, typer.Option(help="console: riot and maintenance alerts only (no low-harmony ones)")
    ] = False,
    role: Annotated[
        Role, typer.Option(help="rules: reports → alerts topic; delivery: alerts topic → sinks; both")
    ] = Role.BOTH,
    count: Annotated[
        int | None, typer.Option(help="stop after this many messages (tests, benchmarks)")
    ] = None,
    timeout: Annotated[float | None, typer.Option(help="stop after this many idle seconds")] = None,
) -> None:
    """Run one alerting worker; start more with the same command to scale out (one group per role)."""
    from alerting.quix_app import wait_for_topics
    from alerting.runner import DeliveryFailed, Limits, run_both, run_delivery, run_rules
    from lakehouse.streaming.topics import TopicMissing

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = get_settings()
    kafka = settings.kafka
    # The rules read the reports and write the alerts; delivery reads the alerts; both dead-letter.
    needed = {
        Role.BOTH: (kafka.reports_topic, kafka.alerts_topic),
        Role.RULES: (kafka.reports_topic, kafka.alerts_topic),
        Role.DELIVERY: (kafka.alerts_topic,),
    }[role] + (kafka.dead_letter_topic,)
    STOP.install()  # a stop while waiting for the broker at start is a clean exit
    try:
        if not wait_for_topics(settings, needed):
            return
    except TopicMissing as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    options = settings.alerting
    if webhook is not None:
        options = options.model_copy(update={"webhook_url": webhook})
    rules = settings.rules
    limits = Limits(count, timeout)
    if role != Role.DELIVERY:
        console.print(
            f"alerting: group {options.consumer_group}; low harmony < {rules.low_harmony_threshold:g}; riot "
            f"= {rules.riot_min_citizens} citizens within {rules.riot_window_minutes:g} min in one zone"
        )
    if role != Role.RULES:
        sinks = ["PostgreSQL"] + (["webhook"] if options.webhook_url else []) + ([] if quiet else ["console"])
        console.print(f"delivery: group {options.delivery_group} → {', '.join(sinks)}")
    if role == Role.RULES:
        outcome = run_rules(settings, options, limits)
    elif role == Role.DELIVERY:
        outcome = run_delivery(settings, options, not quiet, riots_only, limits)
    else:
        try:
            outcome = run_both(settings, options, not quiet, riots_only, limits)
        except DeliveryFailed as exc:
            console.print(f"[red]error:[/] {escape(str(exc))}")
            raise typer.Exit(1) from exc
    console.print(
        f"alerting: raised {outcome.alerts:,} alerts, dead-lettered {outcome.dead_lettered:,}"
        + (f", {outcome.undelivered:,} not yet delivered" if outcome.undelivered else "")
    )
