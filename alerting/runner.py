"""One `harmony alert`: the rules worker in this process, its delivery worker in a child beside it.

They are two processes because they are two consumer groups with different jobs: the rules worker's
poll loop must never wait for PostgreSQL or a webhook. The child dies with its parent (even on
kill -9), and it is not in the terminal's process group: on Ctrl-C or SIGTERM the parent stops the
rules first, waits until the delivery group has committed everything on the alerts topic, then stops
the child, so a graceful stop leaves no alert undelivered.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import Consumer, TopicPartition
from quixstreams.checkpointing.exceptions import CheckpointConsumerCommitError
from quixstreams.exceptions.assignment import PartitionAssignmentError
from quixstreams.kafka.exceptions import KafkaProducerDeliveryError

from alerting import app as rules_app
from alerting import delivery
from lakehouse.settings import AlertingSettings, Settings
from lakehouse.stopping import STOP, background

logger = logging.getLogger("harmony.alerting")
# A run that ends in one of these is started again (see `resuming`).
BROKER_AWAY = (CheckpointConsumerCommitError, KafkaProducerDeliveryError, PartitionAssignmentError)
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Limits:
    """Stop after this many messages or idle seconds (tests, benchmarks); None: run until stopped."""

    count: int | None = None
    timeout_s: float | None = None

    def kwargs(self) -> dict[str, float | int]:
        out: dict[str, float | int] = {}
        if self.count is not None:
            out["count"] = self.count
        if self.timeout_s is not None:
            out["timeout"] = self.timeout_s
        return out


@dataclass(frozen=True)
class Outcome:
    alerts: int = 0
    dead_lettered: int = 0
    undelivered: int = 0


def resuming(what: str, run_once: Callable[[], None]) -> None:
    """Call ``run_once`` (which builds a new Quix app and runs it) again when the broker went away in the
    middle of a checkpoint, instead of exiting: the offsets were not committed, so the new consumer
    replays from the last committed checkpoint, which at-least-once processing with idempotent sinks and
    a changelogged state makes harmless. One log line per attempt, backing off to 30 s.

    Two ways the broker's absence shows: the checkpoint's offset commit fails, or its flush of produced
    alerts and changelog records gives up (``message.timeout.ms`` in ``quix_app``). The second used to
    leave a rules worker waiting up to librdkafka's default of 5 minutes after a broker restart, then exit
    (found by the reliability soak). A third: right after a broker restart, state recovery at assignment
    cannot read the changelog topics' offsets yet (PartitionAssignmentError; a broker-kill test)."""
    STOP.install()
    backoff_s = 1.0
    while not STOP.requested:
        try:
            run_once()
            return
        except BROKER_AWAY as exc:
            logger.warning(
                "%s: the broker is away (%s); the last checkpoint will be replayed; resuming in %.0fs",
                what, exc.args[0] if exc.args else exc, backoff_s,
            )  # fmt: skip
            if STOP.back_off(backoff_s):
                break
            backoff_s = min(30.0, backoff_s * 2)
    logger.info("%s: stopped between two runs, as asked", what)


def run_rules(settings: Settings, options: AlertingSettings, limits: Limits) -> Outcome:
    totals = Outcome()

    def once() -> None:
        nonlocal totals
        rules = rules_app.build(settings, options)
        try:
            rules.app.run(**limits.kwargs())  # type: ignore[arg-type]
        finally:
            rules.dead_letters.flush()
            rules.models.close()
            totals = Outcome(totals.alerts + rules.raised, totals.dead_lettered + rules.dead_letters.count)

    resuming("rules", once)
    return totals


def run_delivery(
    settings: Settings, options: AlertingSettings, console: bool, riots_only: bool, limits: Limits
) -> Outcome:
    dead_lettered = 0

    def once() -> None:
        nonlocal dead_lettered
        worker = delivery.build(settings, options, console=console, riots_only=riots_only)
        try:
            worker.app.run(**limits.kwargs())  # type: ignore[arg-type]
        finally:
            worker.close()
            dead_lettered += worker.dead_letters.count

    resuming("delivery", once)
    return Outcome(dead_lettered=dead_lettered)


def _delivery_child(
    parent: int, settings: Settings, options: AlertingSettings, console: bool, riots_only: bool
) -> None:
    os.setpgrp()  # out of the terminal's process group: the parent decides when it stops
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:
        return  # the parent died before prctl took effect
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    run_delivery(settings, options, console, riots_only, Limits())


def undelivered(settings: Settings, options: AlertingSettings) -> int:
    """Alerts on the topic that the delivery group has not committed yet."""
    topic = settings.kafka.alerts_topic
    consumer = Consumer(
        {
            **settings.kafka.client(),
            "group.id": options.delivery_group,
            "enable.auto.commit": False,
        }
    )
    try:
        md = consumer.list_topics(topic, timeout=10)
        parts = [TopicPartition(topic, p) for p in md.topics[topic].partitions]
        left = 0
        for tp in consumer.committed(parts, timeout=10):
            low, high = consumer.get_watermark_offsets(tp, timeout=10)
            left += high - max(tp.offset, low)
        return left
    finally:
        consumer.close()


class DeliveryFailed(RuntimeError):
    """The delivery worker beside the rules worker exited by itself: stop both, loudly."""


def run_both(
    settings: Settings,
    options: AlertingSettings,
    console: bool,
    riots_only: bool,
    limits: Limits,
    drain_timeout_s: float = 60.0,
) -> Outcome:
    child = multiprocessing.get_context("spawn").Process(
        target=_delivery_child,
        args=(os.getpid(), settings, options, console, riots_only),
        name="harmony-alert-delivery",
    )
    child.start()
    current = [rules_app.build(settings, options)]  # the rules app running now (rebuilt by `resuming`)
    raised = dead_lettered = 0
    stopping = threading.Event()

    def watch() -> None:
        # Alerts raised without anyone delivering them would go unseen: if the child dies, stop too.
        # Asked again until the run returns: a stop that lands while Quix is still starting is reset.
        child.join()
        if not stopping.is_set():
            logger.error("the delivery worker exited (code %s); stopping the rules worker", child.exitcode)
        while not stopping.wait(0.5):
            current[0].app.stop()

    background(watch, "watch-delivery")

    def once() -> None:
        nonlocal raised, dead_lettered
        rules = current[0]
        try:
            rules.app.run(**limits.kwargs())  # type: ignore[arg-type]
        except BROKER_AWAY:
            raised, dead_lettered = raised + rules.raised, dead_lettered + rules.dead_letters.count
            rules.dead_letters.flush()
            rules.models.close()
            current[0] = rules_app.build(settings, options)
            raise

    try:
        resuming("rules", once)
        stopping.set()
        if not child.is_alive():
            raise DeliveryFailed(
                f"the delivery worker exited with code {child.exitcode} (its error is above); "
                "the alerts raised stay on the alerts topic for the next delivery worker"
            )
        deadline = time.monotonic() + drain_timeout_s
        left = undelivered(settings, options)
        while left and child.is_alive() and time.monotonic() < deadline:
            time.sleep(0.2)
            left = undelivered(settings, options)
        if left:
            logger.warning("delivery stopped with %d alerts not yet delivered; they stay on the topic", left)
        return Outcome(raised + current[0].raised, dead_lettered + current[0].dead_letters.count, left)
    finally:
        stopping.set()
        current[0].dead_letters.flush()
        current[0].models.close()
        if child.is_alive():
            child.terminate()
            child.join(30)
        if child.is_alive():
            child.kill()
