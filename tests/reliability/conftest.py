"""The reliability suite runs on the ingest tests' isolated lanes (topic, namespace, consumer group)."""

from tests.ingest.conftest import lane

__all__ = ["lane"]
