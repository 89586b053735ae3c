"""Whether the topics a processor reads and writes exist, asked before Quix is built.

Quix creates a missing topic itself (``auto_create_topics``, which its changelog and repartition topics
need) with one partition: on a lane never provisioned a worker would get topics unlike the ones
``harmony stack up`` creates, and no report would ever arrive (the ingest worker would also make tables
for nothing). So each processor checks first and says in one line what to run.
"""

from __future__ import annotations

from collections.abc import Iterable

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, ResourceType

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
        known = AdminClient(settings.kafka.client()).list_topics(timeout=timeout_s).topics
    except KafkaException as exc:
        raise ConnectionError(f"cannot reach Kafka at {servers}: {exc.args[0].str()}") from exc
    for topic in topics:
        if topic not in known:
            raise TopicMissing(topic)


MAX_BYTES_CONFIG = "max.message.bytes"  # a topic's own message size limit (the broker's is message.max.bytes)
MIN_INSYNC_CONFIG = "min.insync.replicas"


def topic_configs(settings: Settings) -> dict[str, str]:
    """The configuration every topic of the platform is created and kept with (``harmony stack
    provision``, which compose.yaml and a cluster run too): the message size the settings assume, and
    the copies an acknowledged write is on."""
    k = settings.kafka
    return {MAX_BYTES_CONFIG: str(k.max_message_bytes), MIN_INSYNC_CONFIG: str(k.min_insync_replicas)}


def new_topic(
    settings: Settings, name: str, partitions: int | None = None, config: dict[str, str] | None = None
) -> NewTopic:
    """A topic as the platform makes them: the settings' partitions, replication and configuration
    (``config`` on top), on one broker or a cluster alike."""
    k = settings.kafka
    return NewTopic(
        name,
        num_partitions=partitions or k.partitions,
        replication_factor=k.replication_factor,
        config={**topic_configs(settings), **(config or {})},
    )


def topic_max_bytes(settings: Settings, topic: str, timeout_s: float = 10) -> int:
    """The largest message ``topic`` takes: its own ``max.message.bytes``, read from the broker, capped by
    the settings; the settings' when the broker cannot say (a dead letter is then cut to that)."""
    limit = settings.kafka.max_message_bytes
    admin = AdminClient(settings.kafka.client({"log_level": 3}))
    try:
        resource = ConfigResource(ResourceType.TOPIC, topic)
        configs = admin.describe_configs([resource], request_timeout=timeout_s)[resource].result(timeout_s)
        entry = configs.get(MAX_BYTES_CONFIG)
        return min(limit, int(entry.value)) if entry is not None and entry.value else limit
    except Exception:  # broker away, topic missing, no right to describe: the settings decide
        return limit
