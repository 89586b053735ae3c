"""The reliability suite's one checker: after a fault, is the lake exactly the source topic?

Ground truth is the topic read back (not what the harness meant to send) and the dead-letter topic. Each
``check_*`` raises ``AssertionError`` naming the broken invariant; :func:`check_lake` runs them all and
returns what it counted (orphan files are reported, not an error: ``harmony lake maintain`` removes them).
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

import pyarrow.compute as pc
from confluent_kafka import Consumer, TopicPartition
from pyarrow import fs as pafs
from pyiceberg.table import Table

from ingest.streams import STREAMS
from ingest.writer import committed_offsets, snapshot_offsets
from lakehouse.catalog import load_catalog
from lakehouse.codec import ContractError, decode
from lakehouse.schemas import Alert, DroneReport
from lakehouse.settings import RuleSettings, Settings
from lakehouse.storage import s3_filesystem
from testkit.dead_letters import dead_letters_from


@dataclass(frozen=True)
class Message:
    offset: int
    report_id: str | None  # None: not a report (it must be a dead letter)
    citizens: int


@dataclass
class Source:
    """The source topic as it is: per partition, its messages in offset order, and the dead-lettered ones."""

    messages: dict[int, list[Message]]
    ends: dict[int, int]
    dead: set[tuple[int, int]]

    def valid(self, partition: int, start: int, end: int) -> list[Message]:
        return [
            m
            for m in self.messages.get(partition, [])
            if start <= m.offset < end and (partition, m.offset) not in self.dead
        ]


@dataclass
class Checked:
    reports: int
    observations: int
    dead_letters: int
    orphan_files: dict[str, int] = field(default_factory=dict)


def read_source(settings: Settings, topic: str, timeout_s: float = 120) -> Source:
    consumer = Consumer(
        {
            **settings.kafka.client(),
            "group.id": f"checker-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in meta.partitions
        }
        consumer.assign([TopicPartition(topic, p, 0) for p in ends])
        messages: dict[int, list[Message]] = {p: [] for p in ends}
        remaining = sum(ends.values())
        deadline = time.monotonic() + timeout_s
        while remaining > 0:
            assert time.monotonic() < deadline, f"could not read {topic} back in {timeout_s} s"
            for msg in consumer.consume(10_000, 1.0):
                if msg.error() or msg.offset() >= ends[msg.partition()]:
                    continue
                # The report as the contract reads it (a hostile message may repeat a key or carry an id
                # that a plain JSON parse reads differently): valid or not is the contract's call.
                try:
                    report = decode(DroneReport, msg.value() or b"")
                    report_id, citizens = report.report_id, len(report.citizens)
                except ContractError:
                    report_id, citizens = None, 0
                messages[msg.partition()].append(Message(msg.offset(), report_id, citizens))
                remaining -= 1
    finally:
        consumer.close()
    dead = set()
    for record, _headers in dead_letters_from(settings, topic):
        _topic, partition, offset = str(record["source"]).rsplit("/", 2)
        dead.add((int(partition), int(offset)))
    return Source(messages, ends, dead)


def check_contents(source: Source, reports: Table, observations: Table) -> tuple[int, int]:
    """Invariants 1, 2 and 4: every table scans whole; its report ids are exactly the source's valid
    messages, none twice; the observations are exactly the citizens inside those reports."""
    expected = Counter(
        m.report_id
        for p in source.ends
        for m in source.valid(p, 0, source.ends[p])
        if m.report_id is not None
    )
    landed = Counter(reports.scan(selected_fields=("report_id",)).to_arrow().column("report_id").to_pylist())
    twice = [r for r, n in landed.items() if n > 1]
    assert not twice, f"{len(twice)} report ids landed twice, e.g. {twice[:3]}"
    missing, extra = expected - landed, landed - expected
    assert not missing and not extra, (
        f"{sum(missing.values())} reports of the topic are not in the lake (e.g. {list(missing)[:3]}); "
        f"{sum(extra.values())} in the lake are not in the topic"
    )
    obs = observations.scan(selected_fields=("report_id",)).to_arrow().column("report_id")
    per_report = Counter(obs.to_pylist())
    citizens = {m.report_id: m.citizens for p in source.ends for m in source.valid(p, 0, source.ends[p])}
    wrong = {r: (per_report.get(r, 0), n) for r, n in citizens.items() if per_report.get(r, 0) != n}
    assert not wrong, (
        f"{len(wrong)} reports whose observations differ from their citizens, e.g. {list(wrong.items())[:3]}"
    )
    assert len(obs) == sum(citizens.values()), "observations of reports that are not in the lake"
    return sum(landed.values()), len(obs)


def check_snapshot_chain(source: Source, table: Table, topic: str, rows_of: str) -> None:
    """Invariant 3: along the table's snapshots, the committed offsets never go backwards, and each
    ingest snapshot adds exactly the rows of the valid messages between its parent's offsets and its own
    (``rows_of``: "reports" counts one per message, "citizens" the citizens inside)."""
    chain = []
    snapshot = table.current_snapshot()
    while snapshot is not None:
        chain.append(snapshot)
        snapshot = table.snapshot_by_id(snapshot.parent_snapshot_id) if snapshot.parent_snapshot_id else None
    before: dict[int, int] = {}
    # Where older snapshots were expired, the oldest one kept is the baseline, not checked. Its parent id
    # does not say so (pyiceberg's expiry clears the parent id of a removed snapshot's child; Spark's
    # keeps it): only the table's first snapshot has sequence number 1.
    known = bool(chain) and chain[-1].sequence_number == 1
    for snap in reversed(chain):
        offsets = snapshot_offsets(snap, topic)
        if offsets is None:  # not an ingest commit (compaction, expiry)
            continue
        if not known:
            before, known = dict(offsets), True
            continue
        back = {p: (before[p], o) for p, o in offsets.items() if o < before.get(p, 0)}
        assert not back, f"snapshot {snap.snapshot_id} moved offsets backwards: {back}"
        added = int((snap.summary.additional_properties if snap.summary else {}).get("added-records", 0))
        messages = [m for p, o in offsets.items() for m in source.valid(p, before.get(p, 0), o)]
        want = len(messages) if rows_of == "reports" else sum(m.citizens for m in messages)
        assert added == want, (
            f"snapshot {snap.snapshot_id} of {'.'.join(table.name())} added {added} rows for {want} between its "
            f"offsets {offsets} and those before it {before}"
        )
        before = {**before, **offsets}


def check_caught_up(settings: Settings, source: Source, tables: list[Table], topic: str, group: str) -> None:
    """Invariant 5: every table's offsets reached the topic's end, and the consumer group's committed
    offsets are never ahead of the lake's (``group``: the ingest stream's own group)."""
    for table in tables:
        landed = committed_offsets(table, topic)
        behind = {p: (landed.get(p, 0), end) for p, end in source.ends.items() if landed.get(p, 0) != end}
        assert not behind, f"{'.'.join(table.name())} is not at the topic's end: {behind}"
    consumer = Consumer(settings.kafka.client({"group.id": group}))
    try:
        committed = consumer.committed([TopicPartition(topic, p) for p in source.ends], timeout=10)
    finally:
        consumer.close()
    assert any(tp.offset >= 0 for tp in committed), f"group {group} has committed no offset of {topic}"
    lake = min((committed_offsets(t, topic) for t in tables), key=lambda o: sum(o.values()))
    ahead = {tp.partition: tp.offset for tp in committed if tp.offset > lake.get(tp.partition, 0)}
    assert not ahead, f"the consumer group committed past the lake: {ahead} (lake {lake})"


def orphan_files(settings: Settings, table: Table) -> int:
    """Invariant 7 (a count, not an error): files under the table's data folder that no snapshot refers to."""
    # pyiceberg's all_files() raises on a table whose snapshots hold no manifest (every message a dead letter)
    holds_files = any(s.manifests(table.io) for s in table.snapshots())
    referenced = set(
        pc.unique(table.inspect.all_files().column("file_path")).to_pylist() if holds_files else []
    )
    location = urlparse(table.location())
    fs = s3_filesystem(settings)
    # A table that never got a row (every report without citizens, in the state machine) has no data folder.
    data = pafs.FileSelector(f"{location.netloc}{location.path}/data", recursive=True, allow_not_found=True)
    infos = fs.get_file_info(data)
    return sum(1 for i in infos if i.is_file and f"s3://{i.path}" not in referenced)


def check_lake(settings: Settings, topic: str, namespace: str, group: str) -> Checked:
    """Every invariant of the lake against the topic (1-5, 7); the caller checks the processes (8).
    ``group``: the configured ``ingest.consumer_group`` (the reports stream's group derives from it)."""
    source = read_source(settings, topic)
    catalog = load_catalog(settings)
    reports = catalog.load_table(f"{namespace}.reports")
    observations = catalog.load_table(f"{namespace}.citizen_observations")
    n_reports, n_obs = check_contents(source, reports, observations)
    check_snapshot_chain(source, reports, topic, "reports")
    check_snapshot_chain(source, observations, topic, "citizens")
    group = STREAMS["reports"].consumer_group(group)
    check_caught_up(settings, source, [reports, observations], topic, group)
    return Checked(
        n_reports,
        n_obs,
        len(source.dead),
        {".".join(t.name()): orphan_files(settings, t) for t in (reports, observations)},
    )


RIOT_WINDOW = timedelta(minutes=RuleSettings().riot_window_minutes)


def _at(text: object) -> datetime:
    return datetime.fromisoformat(str(text))


def match(
    truth: list[dict[str, object]], riots: list[Alert], window: timedelta = RIOT_WINDOW
) -> tuple[dict[str, set[str]], list[Alert]]:
    """Invariant 6's matching: riot alert ids per ground-truth episode, and the riot alerts that match none.

    An alert matches an episode of its zone that it started in. A zone riots as one, though: an episode
    that begins while an earlier one of its zone is still rioting (overlapping, or within the riot window
    of its end, whose rioters still fill the window) raises no alert of its own; it is matched to the
    latest alert of that run of episodes started before it, the riot that was open when it began."""
    found: dict[str, set[str]] = {str(e["episode_id"]): set() for e in truth}
    episodes = sorted(truth, key=lambda e: (str(e["zone"]), _at(e["start"])))
    run_start: dict[str, datetime] = {}  # episode id -> start of its run of episodes in its zone
    zone, start, end = "", datetime.min.replace(tzinfo=UTC), datetime.min.replace(tzinfo=UTC)
    for e in episodes:
        if e["zone"] != zone or _at(e["start"]) > end + window:  # a new run
            zone, start, end = str(e["zone"]), _at(e["start"]), _at(e["end"])
        end = max(end, _at(e["end"]))
        run_start[str(e["episode_id"])] = start
    stray = []
    for alert in riots:
        hits = [
            e
            for e in truth
            if e["zone"] == alert.zone and _at(e["start"]) <= alert.event_time <= _at(e["end"])
        ]
        for e in hits:
            found[str(e["episode_id"])].add(alert.alert_id)
        if not hits:
            stray.append(alert)
    for e in truth:
        eid = str(e["episode_id"])
        if found[eid]:
            continue
        open_then = [
            a for a in riots if a.zone == e["zone"] and run_start[eid] <= a.event_time < _at(e["start"])
        ]
        if open_then:
            found[eid].add(max(open_then, key=lambda a: a.event_time).alert_id)
    return found, stray


def no_tracebacks(log: str) -> None:
    """Invariant 8, the log's half: a processor that rode out a fault printed no traceback."""
    assert "Traceback (most recent call last)" not in log, log[log.index("Traceback") - 2000 :][:4000]
