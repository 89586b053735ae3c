"""The servers of the local stack, in start order."""

from stack.services.base import Service, ServiceError
from stack.services.kafka import Kafka
from stack.services.minio import MinIO
from stack.services.postgres import Postgres
from stack.services.toxiproxy import Toxiproxy
from stack.services.trino import Trino

ALL: tuple[type[Service], ...] = (Postgres, MinIO, Kafka, Trino, Toxiproxy)

__all__ = ["ALL", "Kafka", "MinIO", "Postgres", "Service", "ServiceError", "Toxiproxy", "Trino"]
