"""`harmony analyze`: compute the four answers from one consistent set of raw snapshots, atomically.

Every raw table is read at the snapshot current when the job starts, and each answer is written with
``createOrReplace`` (one atomic Iceberg commit: a rerun replaces, never duplicates) carrying those
snapshot ids in its snapshot summary.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from pyspark.sql import DataFrame, SparkSession

from lakehouse.catalog import load_catalog
from lakehouse.settings import Settings
from lakehouse.tables import (
    ALERTS,
    CITIZEN_OBSERVATIONS,
    REPORTS,
    SOURCE_SNAPSHOTS_PROPERTY,
    Answer,
    TableSpec,
)
from spark import answers


class LakeUnavailable(RuntimeError):
    """The catalog or the object store cannot be reached: said before Spark starts."""


@dataclass(frozen=True)
class AnswerRun:
    answer: Answer
    rows: int
    seconds: float


def source_snapshots(settings: Settings) -> dict[str, int | None]:
    """The current snapshot of each raw table (fails clearly if the lake is unreachable or empty)."""
    try:
        catalog = load_catalog(settings)
        out: dict[str, int | None] = {}
        for spec in (REPORTS, CITIZEN_OBSERVATIONS, ALERTS):
            snap = catalog.load_table(spec.identifier(settings)).current_snapshot()
            if snap is None:
                raise LakeUnavailable(
                    f"{spec.identifier(settings)} has no data yet: run `harmony ingest` first"
                )
            out[spec.identifier(settings)] = snap.snapshot_id
        return out
    except LakeUnavailable:
        raise
    except Exception as exc:
        raise LakeUnavailable(
            f"cannot read the lake catalog at {settings.postgres.host}:{settings.postgres.port} "
            f"or the warehouse at {settings.s3.endpoint}: {type(exc).__name__}: {exc}"
        ) from exc


def read(
    spark: SparkSession, spec: TableSpec, settings: Settings, snapshots: dict[str, int | None]
) -> DataFrame:
    ident = spec.identifier(settings)
    reader = spark.read
    if snapshots[ident] is not None:
        reader = reader.option("snapshot-id", snapshots[ident])
    return reader.table(f"{settings.catalog.name}.{ident}")


def analyze(
    spark: SparkSession, settings: Settings, report: Callable[[str], None] = lambda _m: None
) -> list[AnswerRun]:
    snapshots = source_snapshots(settings)
    threshold = settings.rules.low_harmony_threshold
    reports = read(spark, REPORTS, settings, snapshots)
    observations = read(spark, CITIZEN_OBSERVATIONS, settings, snapshots).cache()
    alerts = read(spark, ALERTS, settings, snapshots).cache()
    jobs: dict[Answer, Callable[[], DataFrame]] = {
        Answer.BY_WEEKDAY: lambda: answers.by_weekday(observations, alerts, threshold),
        Answer.BY_HOUR: lambda: answers.by_hour(observations, alerts, threshold),
        Answer.BY_ZONE: lambda: answers.by_zone(observations, alerts, threshold, answers.zone_centres(spark)),
        Answer.WORDS: lambda: answers.words(reports, threshold),
    }
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {settings.catalog.name}.{settings.catalog.answers_namespace}")
    runs = []
    for answer, build in jobs.items():
        t0 = time.monotonic()
        df = build().cache()
        rows = df.count()
        (
            df.writeTo(f"{settings.catalog.name}.{answer.identifier(settings)}")
            .option(f"snapshot-property.{SOURCE_SNAPSHOTS_PROPERTY}", orjson.dumps(snapshots).decode())
            .tableProperty("format-version", "2")
            .createOrReplace()
        )
        df.unpersist()
        runs.append(AnswerRun(answer, rows, time.monotonic() - t0))
        report(f"{answer.identifier(settings)}: {rows} rows in {runs[-1].seconds:.1f}s")
    observations.unpersist()
    alerts.unpersist()
    return runs
