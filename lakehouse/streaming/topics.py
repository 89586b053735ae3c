"""Whether the topics a processor reads and writes exist, asked before Quix is built.

Quix creates a missing topic itself (``auto_create_topics``, which its changelog and repartition topics
need) with one partition: on a lane never provisioned a worker would get topics unlike the ones
``harmony stack up`` creates, and no report would ever arrive (the ingest worker would also make tables
for nothing). So each processor checks first and says in one line what to run.
"""

from __future__ import annotations

from collections.abc import Iterable

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from lakehouse.settings import Settings


class TopicMissing(RuntimeError):
    """A topic the worker reads or writes does not exist; ``harmony stack up`` creates the topics."""

    def __init__(self, topic: str) -> None:
        super().__init__(f"topic {topic} does not exist: run `harmony stack up` (it creates the topics)")
        self.topic = topic


def require_topics(settings: Settings, topics: Iterable[str], timeout_s: float = 10) -> None:
    """Raise :class:`TopicMissing` for the first of ``topics`` the broker does not have, and
    ``ConnectionError`` (transient: the caller decides whether to wait) when the broker cannot be reached.

    Asks for the whole cluster's metadata, never one topic's: a request naming a topic would create it
    on a broker that auto-creates topics."""
    servers = settings.kafka.bootstrap_servers
    try:
        known = AdminClient({"bootstrap.servers": servers}).list_topics(timeout=timeout_s).topics
    except KafkaException as exc:
        raise ConnectionError(f"cannot reach Kafka at {servers}: {exc.args[0].str()}") from exc
    for topic in topics:
        if topic not in known:
            raise TopicMissing(topic)
