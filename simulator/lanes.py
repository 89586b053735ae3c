"""The fleet split by drone over several producer processes (``harmony simulate --processes N``).

One process is bound by one core (generation and the produce calls are Python); machines with more cores
run N. Process k simulates the drones ``d % N == k`` with a random stream of its own, so a seed gives the
same bytes again for the same N. Each process writes its own ground truth beside the requested file;
the parent merges them (episodes once, drone events all) when every process is done, and shows one
progress bar from counters the processes share.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.queues
import multiprocessing.synchronize
import signal
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.sharedctypes import SynchronizedArray
from pathlib import Path

import numpy as np
import orjson

from simulator.config import SimulatorConfig
from simulator.delivery import DeliveryStats, ReportProducer
from simulator.episodes import GroundTruth
from simulator.generator import Batch, Lane, ReportGenerator

REPORTS_PER_TICK = 100
TICK_MIN_S, TICK_MAX_S = 0.005, 0.05


def paced(gen: ReportGenerator, rate: float, count: int | None, duration_s: float | None) -> Iterator[Batch]:
    """Reports stamped with the wall clock, paced to ``rate`` per second, the generator's drones in turn.

    Small ticks keep the stream steady (a fleet does not report in bursts), but a batch has a fixed cost
    (~1 ms: the wear model's per-drone step and the writer's Arrow calls), so a tick carries ~100 reports
    where the rate allows: 10 ms at 10,000 reports/s, 50 ms at most for slow streams, 5 ms at least.
    """
    drones = gen.drones
    sent, start, ticks = 0, time.monotonic(), 0
    tick = min(TICK_MAX_S, max(TICK_MIN_S, REPORTS_PER_TICK / rate))
    while (count is None or sent < count) and (duration_s is None or time.monotonic() - start < duration_s):
        ticks += 1
        pause = start + ticks * tick - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        due = int((time.monotonic() - start) * rate) - sent
        if count is not None:
            due = min(due, count - sent)
        if due <= 0:
            continue
        due = min(due, 8192)
        seq = np.arange(sent, sent + due)
        yield gen.batch(np.full(due, time.time()), drones[seq % len(drones)])
        sent += due


@dataclass(frozen=True)
class Run:
    """One simulation as the command line asked for it (picklable: every process gets a copy)."""

    config: SimulatorConfig
    salt: int
    start: datetime | None  # backfill from here; None: live
    count: int | None
    duration_s: float | None
    rate: float
    ground_truth: Path
    kafka_client: Mapping[str, object]  # librdkafka's address and credentials (KafkaSettings.client)
    topic: str

    def batches(self, gen: ReportGenerator, lanes: int) -> Iterator[Batch]:
        if self.start is not None:
            assert self.count is not None
            return gen.backfill(self.start, self.count)
        count = None if self.count is None else self.count // lanes + (gen.lane.index < self.count % lanes)
        return paced(gen, self.rate / lanes, count, self.duration_s)

    def producer(self) -> ReportProducer:
        # Live reports should leave at once (alert latency); a backfill batches harder for throughput.
        extra: dict[str, object] | None = None if self.start is not None else {"linger.ms": 2}
        return ReportProducer(self.kafka_client, self.topic, extra=extra)


def part(path: Path, index: int) -> Path:
    return path.with_name(f"{path.name}.lane{index}")


PRODUCED, PENDING, FAILED = 0, 1, 2


def _lane(
    run: Run,
    lane: Lane,
    counters: SynchronizedArray[int],
    stop: multiprocessing.synchronize.Event,
    errors: multiprocessing.queues.Queue[dict[str, int]],
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops the lanes (Ctrl-C reaches the group)
    truth = GroundTruth(part(run.ground_truth, lane.index))
    gen = ReportGenerator(run.config, truth, id_salt=run.salt, lane=lane)
    producer = run.producer()
    base = 3 * lane.index
    for batch in run.batches(gen, lane.of):
        producer.send(batch.keys, batch.values)
        counters[base + PRODUCED], counters[base + PENDING] = producer.stats.produced, producer.stats.pending
        if stop.is_set():
            break
    stats = producer.flush()
    counters[base + PRODUCED], counters[base + PENDING] = stats.produced, stats.pending
    counters[base + FAILED] = stats.failed
    errors.put(stats.errors)


def run_lanes(
    run: Run, lanes: int, on_progress: Callable[[DeliveryStats], None]
) -> tuple[DeliveryStats, bool]:
    """Run ``lanes`` producer processes to the end (or until Ctrl-C): their summed stats, interrupted?"""
    ctx = multiprocessing.get_context("spawn")  # no inherited librdkafka threads or locks
    counters: SynchronizedArray[int] = ctx.Array("q", 3 * lanes)
    stop = ctx.Event()
    errors: multiprocessing.queues.Queue[dict[str, int]] = ctx.Queue()
    procs = [
        ctx.Process(target=_lane, args=(run, Lane(k, lanes), counters, stop, errors)) for k in range(lanes)
    ]
    interrupt = signal.signal(signal.SIGINT, signal.SIG_IGN)  # inherited: Ctrl-C reaches the parent only
    try:
        for p in procs:
            p.start()
    finally:
        signal.signal(signal.SIGINT, interrupt)
    interrupted = False

    def total() -> DeliveryStats:
        c = counters[:]
        return DeliveryStats(
            produced=sum(c[PRODUCED::3]), failed=sum(c[FAILED::3]), pending=sum(c[PENDING::3])
        )

    while any(p.is_alive() for p in procs):
        try:
            time.sleep(0.2)
        except KeyboardInterrupt:
            interrupted = True
            stop.set()
        on_progress(total())
    stats = total()
    crashed = [k for k, p in enumerate(procs) if p.exitcode != 0]
    for _ in range(lanes - len(crashed)):  # a lane that ended cleanly sent its errors last, exactly once
        for name, n in errors.get(timeout=30).items():
            stats.errors[name] = stats.errors.get(name, 0) + n
    if crashed:  # its counters stop where it died: say so, the command fails
        stats.errors["lane process exited"] = len(crashed)
    merge_ground_truth(run.ground_truth, lanes)
    return stats, interrupted


def merge_ground_truth(path: Path, lanes: int) -> None:
    """The lanes' ground truths as one file: each riot episode once (several lanes see one), every drone
    event (each drone belongs to one lane), in the order the lanes wrote them."""
    seen: set[str] = set()
    lines = []
    for k in range(lanes):
        p = part(path, k)
        if not p.exists():
            continue
        for line in p.read_bytes().splitlines():
            record = orjson.loads(line)
            if record.get("kind") == "riot":
                if record["episode_id"] in seen:
                    continue
                seen.add(record["episode_id"])
            lines.append(line)
        p.unlink()
    path.write_bytes(b"".join(line + b"\n" for line in lines))
