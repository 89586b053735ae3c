"""`harmony analyze`: the answers from one consistent set of raw snapshots, full or incremental.

Every raw table is read at the snapshot current when the job starts; each answer is written with
``createOrReplace`` (one atomic Iceberg commit: a rerun replaces, never duplicates) carrying those
snapshot ids in its snapshot summary. ``incremental=True`` starts from the snapshots the stored answers
were computed from: if only appends (and compactions) happened since, it reads just the appended rows
and adds their counts to the stored ones; otherwise it says why and recomputes everything.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import orjson
from pyiceberg.catalog import Catalog
from pyiceberg.table import Table
from pyspark.sql import DataFrame, SparkSession

from lakehouse.catalog import load_catalog
from lakehouse.settings import Settings
from lakehouse.tables import (
    ALERTS,
    ANALYZE_MODE_PROPERTY,
    CITIZEN_OBSERVATIONS,
    INGEST_STREAM,
    REPORTS,
    SOURCE_SNAPSHOTS_PROPERTY,
    Answer,
    TableSpec,
    ensure_namespace,
)
from spark import answers

Snapshots = dict[str, int | None]
# Operations that add no rows a previous run has not seen, besides appends: compaction rewrites files.
INCREMENTAL_SAFE = {"append", "replace"}


class LakeUnavailable(RuntimeError):
    """The catalog or the object store cannot be reached: said before Spark starts."""


@dataclass(frozen=True)
class AnswerRun:
    answer: Answer
    rows: int
    seconds: float


@dataclass(frozen=True)
class AnalyzeRun:
    mode: str  # "full", "incremental" or "unchanged"
    answers: tuple[AnswerRun, ...] = ()
    reason: str = ""


@dataclass(frozen=True)
class Counts:
    """The additive counts the answers are finished from (``spark/answers.py``, step 1)."""

    days: DataFrame
    hours: DataFrame
    zones: DataFrame
    words: DataFrame
    cells: DataFrame  # per day, zone and hour


def current_snapshot(
    catalog: Catalog, spec: TableSpec, settings: Settings, empty_ok: bool = False
) -> int | None:
    """A raw table's current snapshot id; :class:`LakeUnavailable` naming the command that fills it when
    it does not exist, or holds nothing yet (unless ``empty_ok``)."""
    ident = spec.identifier(settings)
    if INGEST_STREAM[spec.name] == "alerts":
        fill, topic = "`harmony ingest --stream alerts`", settings.kafka.alerts_topic
    else:
        fill, topic = "`harmony simulate` then `harmony ingest`", settings.kafka.reports_topic
    if not catalog.table_exists(ident):
        raise LakeUnavailable(f"{ident} does not exist yet: run {fill} first")
    snap = catalog.load_table(ident).current_snapshot()
    if snap is None and not empty_ok:
        raise LakeUnavailable(f"{ident} has no data yet (the topic {topic} may be empty): run {fill} first")
    return snap.snapshot_id if snap is not None else None


def source_snapshots(settings: Settings) -> Snapshots:
    """The current snapshot of each raw table (fails clearly if the lake is unreachable or empty)."""
    try:
        catalog = load_catalog(settings)
        return {
            # no alert at all is a possible (calm) answer
            spec.identifier(settings): current_snapshot(catalog, spec, settings, empty_ok=spec is ALERTS)
            for spec in (REPORTS, CITIZEN_OBSERVATIONS, ALERTS)
        }
    except LakeUnavailable:
        raise
    except Exception as exc:
        raise LakeUnavailable(
            f"cannot read the lake catalog at {settings.postgres.host}:{settings.postgres.port} "
            f"or the warehouse at {settings.s3.endpoint}: {type(exc).__name__}: {exc}"
        ) from exc


def read(spark: SparkSession, spec: TableSpec, settings: Settings, snapshots: Snapshots) -> DataFrame:
    ident = spec.identifier(settings)
    reader = spark.read
    if snapshots[ident] is not None:
        reader = reader.option("snapshot-id", snapshots[ident])
    return reader.table(f"{settings.catalog.name}.{ident}")


def read_appended(
    spark: SparkSession, spec: TableSpec, settings: Settings, since: Snapshots, now: Snapshots
) -> DataFrame:
    """Only the rows appended after ``since`` up to ``now`` (Iceberg's incremental append scan)."""
    ident = spec.identifier(settings)
    return (
        spark.read.option("start-snapshot-id", since[ident])
        .option("end-snapshot-id", now[ident])
        .table(f"{settings.catalog.name}.{ident}")
    )


def previous_sources(catalog: Catalog, settings: Settings) -> Snapshots | None:
    """The sources every stored answer was computed from, if they all agree (a complete last run)."""
    seen = set()
    for answer in Answer:
        ident = answer.identifier(settings)
        if not catalog.table_exists(ident):
            return None
        snap = catalog.load_table(ident).current_snapshot()
        if snap is None or snap.summary is None or snap.summary[SOURCE_SNAPSHOTS_PROPERTY] is None:
            return None
        seen.add(snap.summary[SOURCE_SNAPSHOTS_PROPERTY])
    return orjson.loads(str(seen.pop())) if len(seen) == 1 else None


def _appends_only(table: Table, since: int, now: int) -> str | None:
    """None if ``now`` descends from ``since`` through appends and compactions only; else why not."""
    snap = table.snapshot_by_id(now)
    while snap is not None and snap.snapshot_id != since:
        op = snap.summary.operation.value if snap.summary is not None else "unknown"
        if op not in INCREMENTAL_SAFE:
            return f"{table.name()[-1]} had a {op} since the last run"
        snap = table.snapshot_by_id(snap.parent_snapshot_id) if snap.parent_snapshot_id is not None else None
    return None if snap is not None else f"{'.'.join(table.name())}: the last run's snapshot has been expired"


def why_not_incremental(
    catalog: Catalog, settings: Settings, since: Snapshots | None, now: Snapshots
) -> str | None:
    if since is None:
        return "no complete previous run recorded in the answer tables"
    for spec in (REPORTS, CITIZEN_OBSERVATIONS):
        ident = spec.identifier(settings)
        before, current = since.get(ident), now[ident]
        if before is None or current is None:
            return f"{ident}: no previous snapshot"
        why = _appends_only(catalog.load_table(ident), before, current)
        if why:
            return why
    return None


def analyze(
    spark: SparkSession,
    settings: Settings,
    report: Callable[[str], None] = lambda _m: None,
    incremental: bool = False,
) -> AnalyzeRun:
    """1. decide full or incremental; 2. count the rows to read; 3. finish the answers; 4. replace them."""
    catalog = load_catalog(settings)
    now = source_snapshots(settings)
    since = previous_sources(catalog, settings)
    run = _mode(catalog, settings, since, now, incremental, report)
    if run.mode == "unchanged":
        return run
    threshold = settings.rules.low_harmony_threshold
    if run.mode == "incremental":
        assert since is not None
        observations = read_appended(spark, CITIZEN_OBSERVATIONS, settings, since, now)
        reports = read_appended(spark, REPORTS, settings, since, now)
    else:
        observations = read(spark, CITIZEN_OBSERVATIONS, settings, now)
        reports = read(spark, REPORTS, settings, now)
    grain = answers.grain_counts(observations, threshold).cache()  # small: days × zones × 24 rows
    counts = Counts(
        days=answers.day_counts(grain),
        hours=answers.hour_counts(grain),
        zones=answers.zone_counts(grain),
        words=answers.word_counts(reports, threshold),
        cells=answers.zone_hour_counts(grain),
    )
    if run.mode == "incremental":
        counts = _with_stored(spark, settings, counts)
    riots = answers.riots(read(spark, ALERTS, settings, now)).cache()
    results = finished(spark, counts, riots)
    written = _replace(catalog, settings, results, now, run.mode, report)
    grain.unpersist()
    riots.unpersist()
    return replace(run, answers=written)


def _mode(
    catalog: Catalog,
    settings: Settings,
    since: Snapshots | None,
    now: Snapshots,
    incremental: bool,
    report: Callable[[str], None],
) -> AnalyzeRun:
    """Full, incremental (only appends since the stored answers' snapshots) or unchanged, said once."""
    if not incremental:
        return AnalyzeRun("full")
    if since == now:
        report("inputs unchanged since the last run: nothing to compute")
        return AnalyzeRun("unchanged")
    why = why_not_incremental(catalog, settings, since, now)
    if why is None:
        return AnalyzeRun("incremental")
    report(f"full recompute: {why}")
    return AnalyzeRun("full", reason=why)


def _with_stored(spark: SparkSession, settings: Settings, appended: Counts) -> Counts:
    """The appended rows' counts added to the stored answers' (counts of disjoint rows add up)."""
    cat = settings.catalog.name

    def stored(answer: Answer, frame: DataFrame) -> DataFrame:
        return spark.table(f"{cat}.{answer.identifier(settings)}").select(*frame.columns)

    return Counts(
        days=answers.add_counts(stored(Answer.BY_DAY, appended.days), appended.days, "day"),
        hours=answers.add_counts(stored(Answer.BY_HOUR, appended.hours), appended.hours, "hour"),
        zones=answers.add_counts(stored(Answer.BY_ZONE, appended.zones), appended.zones, "zone"),
        words=answers.add_counts(stored(Answer.WORDS, appended.words), appended.words, "word"),
        cells=answers.add_counts(
            stored(Answer.BY_ZONE_HOUR, appended.cells), appended.cells, "day", "zone", "hour"
        ),
    )


def finished(spark: SparkSession, counts: Counts, riots: DataFrame) -> dict[Answer, DataFrame]:
    """Every answer from its counts and the riot episodes (``spark/answers.py``, step 2)."""
    daily = answers.by_day(counts.days, riots)
    return {
        Answer.BY_DAY: daily,
        Answer.BY_WEEKDAY: answers.by_weekday(daily),
        Answer.BY_HOUR: answers.by_hour(counts.hours, riots),
        Answer.BY_ZONE: answers.by_zone(counts.zones, riots, answers.zone_centres(spark)),
        Answer.WORDS: answers.words(counts.words, counts.hours),
        Answer.BY_ZONE_HOUR: answers.by_zone_hour(counts.cells, riots),
    }


def _replace(
    catalog: Catalog,
    settings: Settings,
    results: dict[Answer, DataFrame],
    now: Snapshots,
    mode: str,
    report: Callable[[str], None],
) -> tuple[AnswerRun, ...]:
    """Materialise every answer before replacing any table (an incremental run reads the stored ones),
    then replace each in one Iceberg commit that carries the source snapshots."""
    cat = settings.catalog.name
    timings, ready = {}, {}
    for answer in Answer:
        t0 = time.monotonic()
        ready[answer] = results[answer].localCheckpoint(eager=True)
        timings[answer] = time.monotonic() - t0
    ensure_namespace(catalog, settings.catalog.answers_namespace)  # safe when two jobs race to create it
    done = []
    for answer in Answer:
        t0 = time.monotonic()
        (
            ready[answer]
            .writeTo(f"{cat}.{answer.identifier(settings)}")
            .option(f"snapshot-property.{SOURCE_SNAPSHOTS_PROPERTY}", orjson.dumps(now).decode())
            .option(f"snapshot-property.{ANALYZE_MODE_PROPERTY}", mode)
            .tableProperty("format-version", "2")
            .createOrReplace()
        )
        rows = ready[answer].count()
        done.append(AnswerRun(answer, rows, timings[answer] + time.monotonic() - t0))
        report(f"{answer.identifier(settings)}: {rows} rows in {done[-1].seconds:.1f}s ({mode})")
    return tuple(done)
