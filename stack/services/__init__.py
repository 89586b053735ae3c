"""The servers of the local stack, in start order: one node each, or several where the topology says so."""

from lakehouse.settings import Settings
from stack.services.base import Service, ServiceError
from stack.services.kafka import Kafka, brokers
from stack.services.minio import MinIO
from stack.services.postgres import Postgres
from stack.services.spark import SparkMaster, SparkWorker, spark_workers
from stack.services.toxiproxy import Toxiproxy
from stack.services.trino import Trino, TrinoWorker, workers

ALL: tuple[type[Service], ...] = (Postgres, MinIO, Kafka, Trino, Toxiproxy)


def nodes(settings: Settings) -> list[Service]:
    """Every server process the settings' topology runs, in start order (stopped in reverse)."""
    spark: list[Service] = [SparkMaster(settings), *spark_workers(settings)] if settings.spark.workers else []
    return [
        Postgres(settings),
        MinIO(settings),
        *brokers(settings),
        Trino(settings),
        *workers(settings),
        Toxiproxy(settings),
        *spark,
    ]


__all__ = [
    "ALL",
    "Kafka",
    "MinIO",
    "Postgres",
    "Service",
    "ServiceError",
    "SparkMaster",
    "SparkWorker",
    "Toxiproxy",
    "Trino",
    "TrinoWorker",
    "nodes",
]
