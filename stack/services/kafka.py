"""Apache Kafka from its Maven Central jars: one combined KRaft broker and controller, or a cluster of them.

Each broker of a cluster is a node of its own (``kafka-1`` ... ``kafka-N``: a folder, a pid, a log, ports
stepped from the settings'), every one a controller voter, all formatted with one cluster id.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from base64 import urlsafe_b64encode
from pathlib import Path
from typing import TYPE_CHECKING

from lakehouse import versions
from lakehouse.private_files import private_dir, write_private
from lakehouse.settings import Settings
from stack import downloads
from stack.services.base import Service, ServiceError

if TYPE_CHECKING:
    from confluent_kafka.admin import AdminClient

LOG4J = """\
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.log.LogCleaner=WARN
"""


def voters(settings: Settings) -> str:
    """The KRaft controller quorum: every broker of the settings, each at its controller port."""
    k = settings.kafka
    return ",".join(f"{n}@{k.host}:{k.node_port(k.controller_port, n)}" for n in k.nodes)


def server_properties(settings: Settings, data: Path, node: int = 1) -> list[str]:
    """Broker ``node``'s configuration. With SASL on, every client listener asks for SCRAM, the
    controller listener for PLAIN (KRaft cannot check SCRAM before it has read its own metadata), and
    Kafka's own authorizer lets the platform's user do anything and the dashboard's only describe. The
    local stack writes it, and `harmony stack kafka-config` renders it for a container (compose.yaml,
    k8s). Kafka's own topics get the settings' replication, and a write acknowledged to ``acks=all``
    is on ``min_insync_replicas`` brokers."""
    k, proxy = settings.kafka, settings.toxiproxy
    client = "SASL_PLAINTEXT" if k.sasl else "PLAINTEXT"
    port, controller, proxied = (k.node_port(p, node) for p in (k.port, k.controller_port, k.proxied_port))
    rf, isr = k.replication_factor, k.min_insync_replicas
    lines = [
        "process.roles=broker,controller",
        f"node.id={node}",
        f"controller.quorum.voters={voters(settings)}",
        f"listeners=PLAINTEXT://{k.host}:{port},CONTROLLER://{k.host}:{controller},"
        f"PROXIED://{k.host}:{proxied}",
        # Clients behind Toxiproxy are told the proxy's address, or they would bypass it.
        f"advertised.listeners=PLAINTEXT://{k.host}:{port},"
        f"PROXIED://{proxy.host}:{k.node_port(proxy.kafka_port, node)}",
        "controller.listener.names=CONTROLLER",
        "inter.broker.listener.name=PLAINTEXT",
        f"listener.security.protocol.map=CONTROLLER:{client},PLAINTEXT:{client},PROXIED:{client}",
        f"log.dirs={data}",
        f"num.partitions={k.partitions}",
        f"default.replication.factor={rf}",
        f"min.insync.replicas={isr}",
        # A replica that was not in sync never becomes leader: an acknowledged write is never lost.
        "unclean.leader.election.enable=false",
        f"offsets.topic.replication.factor={rf}",
        "offsets.topic.num.partitions=8",
        f"transaction.state.log.replication.factor={rf}",
        f"transaction.state.log.min.isr={isr}",
        "transaction.state.log.num.partitions=4",
        "group.initial.rebalance.delay.ms=0",
        "auto.create.topics.enable=false",
        "log.retention.hours=-1",
        "log.retention.bytes=-1",
        f"message.max.bytes={k.max_message_bytes}",
        "num.network.threads=2",
        "num.io.threads=4",
    ]
    if k.sasl:
        user, password = k.sasl_username, k.sasl_password.get_secret_value()
        scram = "org.apache.kafka.common.security.scram.ScramLoginModule"
        plain = "org.apache.kafka.common.security.plain.PlainLoginModule"
        mechanism = k.sasl_mechanism.lower()
        lines += [
            f"sasl.enabled.mechanisms={k.sasl_mechanism}",
            f"sasl.mechanism.inter.broker.protocol={k.sasl_mechanism}",
            *(
                f'listener.name.{name}.{mechanism}.sasl.jaas.config={scram} required username="{user}" '
                f'password="{password}";'
                for name in ("plaintext", "proxied")
            ),
            "listener.name.controller.sasl.enabled.mechanisms=PLAIN",
            "sasl.mechanism.controller.protocol=PLAIN",
            f'listener.name.controller.plain.sasl.jaas.config={plain} required username="{user}" '
            f'password="{password}" user_{user}="{password}";',
            "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            f"super.users=User:{user}",
            "allow.everyone.if.no.acl.found=false",
        ]
    return [*lines, ""]


def format_arguments(settings: Settings) -> list[str]:
    """The storage format's SCRAM users (none without SASL), for a private argument file (java's @file,
    never a command line that every local user can read in /proc): the broker needs its own user in the
    metadata before it accepts anyone; the dashboard's is upserted again at every provision."""
    k = settings.kafka
    if not k.sasl:
        return []
    users = ((k.sasl_username, k.sasl_password), (k.reader_username, k.reader_password))
    return [
        f"--add-scram={k.sasl_mechanism}=[name={name},password={secret.get_secret_value()}]"
        for name, secret in users
    ]


def new_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes in URL-safe base64, unpadded (as kafka-storage random-uuid)."""
    return urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def brokers(settings: Settings) -> list[Kafka]:
    """Every broker of the settings, as the stack runs them."""
    return [Kafka(settings, n) for n in settings.kafka.nodes]


class Kafka(Service):
    name = "kafka"

    def __init__(self, settings: Settings, node: int = 1) -> None:
        self.node = node
        if settings.kafka.brokers > 1:
            self.name = f"kafka-{node}"
        super().__init__(settings)

    @property
    def host(self) -> str:
        return self.settings.kafka.host

    @property
    def ports(self) -> tuple[int, ...]:
        k = self.settings.kafka
        return tuple(k.node_port(p, self.node) for p in (k.port, k.controller_port, k.proxied_port))

    @property
    def cluster_id_file(self) -> Path:
        """The one id every broker of the cluster is formatted with (kept beside their folders)."""
        return self.settings.state_path / "kafka-cluster.id"

    def cluster_id(self) -> str:
        if self.settings.kafka.brokers == 1:
            return new_cluster_id()
        if not self.cluster_id_file.exists():
            self.cluster_id_file.parent.mkdir(parents=True, exist_ok=True)
            write_private(self.cluster_id_file, new_cluster_id().encode())
        return self.cluster_id_file.read_text().strip()

    @property
    def libs(self) -> Path:
        return self.cache / "kafka" / f"{versions.KAFKA_SCALA}-{versions.KAFKA}" / "libs"

    def install(self) -> None:
        downloads.cached(
            self.libs,
            lambda tmp: downloads.maven_classpath(
                self.cache,
                [
                    f"org.apache.kafka:kafka_{versions.KAFKA_SCALA}:{versions.KAFKA}",
                    f"org.slf4j:slf4j-reload4j:{versions.SLF4J}",
                ],
                tmp,
            ),
        )

    @property
    def config_file(self) -> Path:
        return self.home / "server.properties"

    def _java(self) -> list[str]:
        java = shutil.which("java")
        if java is None:
            raise ServiceError(
                self.name, "no `java` on PATH", hint="install a JDK 17 (apt-get install default-jdk)"
            )
        return [
            java,
            f"-Xms{self.settings.kafka.heap}",
            f"-Xmx{self.settings.kafka.heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{self.home / 'log4j.properties'}",
            "-cp",
            f"{self.libs}/*",
        ]

    def prepare(self) -> None:
        k = self.settings.kafka
        data = self.home / "data"
        private_dir(self.home)  # with SASL on, server.properties holds the platform's password
        (self.home / "log4j.properties").write_text(LOG4J)
        write_private(self.config_file, "\n".join(server_properties(self.settings, data, self.node)).encode())
        scram_marker = self.home / "scram-users"
        if (data / "meta.properties").exists():
            if k.sasl and not scram_marker.exists():
                raise ServiceError(
                    self.name,
                    "SASL is on but the broker's storage was formatted without its SCRAM users",
                    hint=f"stop the stack and remove {data} (its topics go with it), then `harmony stack up`",
                )
            return
        cluster_id = self.cluster_id()
        users = format_arguments(self.settings)
        argfile = self.home / "format.args"
        write_private(argfile, "\n".join(users).encode())
        try:
            proc = subprocess.run(
                [
                    *self._java(),
                    "kafka.tools.StorageTool",
                    "format",
                    # "=" form: a base64 id may start with "-", which argparse would take for an option.
                    f"--cluster-id={cluster_id}",
                    "-c",
                    str(self.config_file),
                    *([f"@{argfile}"] if users else []),
                ],
                capture_output=True,
                text=True,
                check=False,
                timeout=300,
            )
        finally:
            argfile.unlink(missing_ok=True)
        if proc.returncode != 0:
            raise ServiceError(self.name, "formatting the KRaft storage failed: " + proc.stderr[-400:])
        if k.sasl:
            scram_marker.touch()

    def command(self) -> list[str]:
        return [*self._java(), "kafka.Kafka", str(self.config_file)]

    def check_health(self) -> None:
        from confluent_kafka.admin import AdminClient

        # log_level 2: refused connections while the broker boots are expected, not worth printing. This
        # broker alone is asked, and must count itself among the cluster's live brokers.
        config = {**self.settings.kafka.client({"log_level": 2}), "bootstrap.servers": self.address}
        md = AdminClient(config).list_topics(timeout=2)
        if self.node not in md.brokers:
            raise RuntimeError(f"broker {self.node} is not in the cluster's metadata")

    def provision(self) -> None:
        from confluent_kafka.admin import (
            AdminClient,
            AlterConfigOpType,
            ConfigEntry,
            ConfigResource,
            NewPartitions,
            NewTopic,
            ResourceType,
        )

        from lakehouse.streaming.topics import new_topic, topic_configs

        k = self.settings.kafka
        admin = AdminClient(k.client({"log_level": 3}))  # errors, not notices
        existing = admin.list_topics(timeout=10).topics
        configs = topic_configs(self.settings)
        wanted: list[NewTopic] = [new_topic(self.settings, t) for t in k.topics if t not in existing]
        # Scaling out by partitions: a topic with fewer partitions than configured grows (never shrinks).
        grown = [
            NewPartitions(t, k.partitions)
            for t in k.topics
            if t in existing and len(existing[t].partitions) < k.partitions
        ]
        futures = {}
        if wanted:
            futures.update(admin.create_topics(wanted, request_timeout=15))
        if grown:
            futures.update(admin.create_partitions(grown, request_timeout=15))
        for topic, fut in futures.items():
            try:
                fut.result()
            except Exception as exc:
                if "TOPIC_ALREADY_EXISTS" not in str(exc):
                    raise ServiceError(self.name, f"creating topic {topic} failed: {exc}") from exc
        if k.sasl:
            self._provision_reader(admin)
        # Topics made before (or by someone else) get the same limits: set, never left to the default.
        present = [t for t in k.topics if t in existing]
        if present:
            resources = [
                ConfigResource(
                    ResourceType.TOPIC,
                    t,
                    incremental_configs=[
                        ConfigEntry(name, value, incremental_operation=AlterConfigOpType.SET)
                        for name, value in configs.items()
                    ],
                )
                for t in present
            ]
            for resource, fut in admin.incremental_alter_configs(resources, request_timeout=15).items():
                try:
                    fut.result()
                except Exception as exc:
                    raise ServiceError(self.name, f"configuring topic {resource.name} failed: {exc}") from exc

    def _provision_reader(self, admin: AdminClient) -> None:
        """The dashboard's SCRAM user, upserted (its password follows the settings), and its only rights:
        describe the topics (their partitions and offsets: the lag) and the alerting groups (members)."""
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import (
            AclBinding,
            AclOperation,
            AclPermissionType,
            ResourcePatternType,
            ResourceType,
            ScramCredentialInfo,
            ScramMechanism,
            UserScramCredentialUpsertion,
        )

        k, alerting = self.settings.kafka, self.settings.alerting
        mechanism = ScramMechanism[k.sasl_mechanism.replace("-", "_")]
        upsert = UserScramCredentialUpsertion(
            k.reader_username,
            ScramCredentialInfo(mechanism, 8192),
            k.reader_password.get_secret_value().encode(),
        )
        principal = f"User:{k.reader_username}"
        resources = [(ResourceType.TOPIC, t) for t in k.topics] + [
            (ResourceType.GROUP, g) for g in (alerting.consumer_group, alerting.delivery_group)
        ]
        acls = [
            AclBinding(
                kind,
                name,
                ResourcePatternType.LITERAL,
                principal,
                "*",
                AclOperation.DESCRIBE,
                AclPermissionType.ALLOW,
            )
            for kind, name in resources
        ]
        try:
            for fut in admin.alter_user_scram_credentials([upsert], request_timeout=15).values():
                fut.result()
            for fut in admin.create_acls(acls, request_timeout=15).values():
                fut.result()
        except KafkaException as exc:
            raise ServiceError(self.name, f"provisioning the dashboard's Kafka user failed: {exc}") from exc
