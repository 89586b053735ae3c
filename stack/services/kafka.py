"""Apache Kafka as one combined KRaft broker and controller, from its Maven Central jars."""

from __future__ import annotations

import shutil
import uuid
from base64 import urlsafe_b64encode
from pathlib import Path

from stack import downloads, versions
from stack.services.base import Service, ServiceError

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


class Kafka(Service):
    name = "kafka"

    @property
    def host(self) -> str:
        return self.settings.kafka.host

    @property
    def ports(self) -> tuple[int, ...]:
        k = self.settings.kafka
        return (k.port, k.controller_port, k.proxied_port)

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
        k, proxy = self.settings.kafka, self.settings.toxiproxy
        data = self.home / "data"
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "log4j.properties").write_text(LOG4J)
        self.config_file.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@{k.host}:{k.controller_port}",
                    f"listeners=PLAINTEXT://{k.host}:{k.port},CONTROLLER://{k.host}:{k.controller_port},"
                    f"PROXIED://{k.host}:{k.proxied_port}",
                    # Clients behind Toxiproxy are told the proxy's address, or they would bypass it.
                    f"advertised.listeners=PLAINTEXT://{k.host}:{k.port},"
                    f"PROXIED://{proxy.host}:{proxy.kafka_port}",
                    "controller.listener.names=CONTROLLER",
                    "inter.broker.listener.name=PLAINTEXT",
                    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,PROXIED:PLAINTEXT",
                    f"log.dirs={data}",
                    f"num.partitions={k.partitions}",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=8",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "transaction.state.log.num.partitions=4",
                    "group.initial.rebalance.delay.ms=0",
                    "auto.create.topics.enable=false",
                    "log.retention.hours=-1",
                    "log.retention.bytes=-1",
                    f"message.max.bytes={k.max_message_bytes}",
                    "num.network.threads=2",
                    "num.io.threads=4",
                    "",
                ]
            )
        )
        if (data / "meta.properties").exists():
            return
        cluster_id = urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        import subprocess

        proc = subprocess.run(
            [
                *self._java(),
                "kafka.tools.StorageTool",
                "format",
                # "=" form: a base64 id may start with "-", which argparse would take for an option.
                f"--cluster-id={cluster_id}",
                "-c",
                str(self.config_file),
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        if proc.returncode != 0:
            raise ServiceError(self.name, "formatting the KRaft storage failed: " + proc.stderr[-400:])

    def command(self) -> list[str]:
        return [*self._java(), "kafka.Kafka", str(self.config_file)]

    def check_health(self) -> None:
        from confluent_kafka.admin import AdminClient

        # log_level 2: refused connections while the broker boots are expected, not worth printing.
        admin = AdminClient({"bootstrap.servers": self.settings.kafka.bootstrap_servers, "log_level": 2})
        md = admin.list_topics(timeout=2)
        if not md.brokers:
            raise RuntimeError("no broker in the cluster metadata")

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

        from lakehouse.streaming.topics import topic_configs

        k = self.settings.kafka
        admin = AdminClient({"bootstrap.servers": k.bootstrap_servers, "log_level": 3})  # errors, not notices
        existing = admin.list_topics(timeout=10).topics
        configs = topic_configs(self.settings)
        wanted = [
            NewTopic(t, num_partitions=k.partitions, replication_factor=1, config=configs)
            for t in k.topics
            if t not in existing
        ]
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
