"""Every endpoint, port, credential, bucket, topic and table name, written once.

All components read their configuration from one frozen :class:`Settings` object, loaded from
``HARMONY_``-prefixed environment variables (nested with ``__``, e.g. ``HARMONY_KAFKA__PORT``) and an
optional git-ignored ``.env`` file. Credentials have no defaults: ``harmony stack up`` writes random ones
into ``.env`` for a local stack, and a deployment sets them in the environment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "HARMONY_"
ENV_NESTED_DELIMITER = "__"
ENV_FILE = ".env"
_PLAIN_TOKEN = re.compile(r"[A-Za-z0-9_.~+/-]+")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KafkaSettings(_Frozen):
    """The broker and the three topics every component shares."""

    host: str = "127.0.0.1"
    port: int = 9092
    controller_port: int = 9093
    # A second listener for clients that reach the broker through Toxiproxy: it advertises the proxy's port
    # (ToxiproxySettings.kafka_port), so those clients keep going through the proxy after the first metadata.
    proxied_port: int = 9094
    reports_topic: str = "drone-reports"
    alerts_topic: str = "riot-alerts"
    dead_letter_topic: str = "dead-letters"
    partitions: int = Field(default=4, ge=1)
    # Brokers of the cluster (KRaft, each a broker and a controller voter). Broker n (from 1) listens on
    # each of the ports above plus (n - 1) * port_step; one broker is the 2-core default.
    brokers: int = Field(default=1, ge=1, le=9)
    port_step: int = Field(default=10, ge=3)
    max_message_bytes: int = Field(default=10 * 1024 * 1024, ge=1 << 20)
    heap: str = "512m"
    # Clients authenticate with SASL/SCRAM where the broker is reachable beyond loopback (compose, k8s);
    # the local stack listens on 127.0.0.1 and stays PLAINTEXT unless this says otherwise (SECURITY.md).
    security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256"] = "SCRAM-SHA-512"
    # The platform's identity (the processors, the simulator, the stack's admin: a super user) ...
    sasl_username: str = "harmony"
    sasl_password: SecretStr = SecretStr("")
    # ... and the dashboard's, which may only describe topics and groups (the lag and the alerting members).
    reader_username: str = "harmony_reader"
    reader_password: SecretStr = SecretStr("")

    @model_validator(mode="after")
    def _sasl_needs_passwords(self) -> Self:
        if self.sasl and not (
            self.sasl_password.get_secret_value() and self.reader_password.get_secret_value()
        ):
            raise ValueError(
                f"security_protocol {self.security_protocol} needs HARMONY_KAFKA__SASL_PASSWORD and "
                "HARMONY_KAFKA__READER_PASSWORD (`harmony stack up` writes both into .env)"
            )
        # The broker's JAAS lines and its SCRAM format quote nothing: a password is one plain token.
        for secret in (self.sasl_password, self.reader_password):
            if self.sasl and not _PLAIN_TOKEN.fullmatch(secret.get_secret_value()):
                raise ValueError("a Kafka SASL password may hold only letters, digits and _ . ~ + / -")
        return self

    @property
    def sasl(self) -> bool:
        return self.security_protocol != "PLAINTEXT"

    @property
    def nodes(self) -> tuple[int, ...]:
        """The brokers' node ids, 1 to ``brokers``."""
        return tuple(range(1, self.brokers + 1))

    def node_port(self, port: int, node: int) -> int:
        """Broker ``node``'s own number for one of the ports above (the first broker's)."""
        return port + (node - 1) * self.port_step

    @property
    def replication_factor(self) -> int:
        """Every topic's (and Kafka's own offsets' and transactions'): three copies where there are three
        brokers, as Kafka's documentation advises for production, else one per broker."""
        return min(3, self.brokers)

    @property
    def min_insync_replicas(self) -> int:
        """Copies a write with acks=all waits for: all but one, so one broker may go and writes go on,
        while two gone stop them rather than risk an acknowledged write (2 of 3, Kafka's advice)."""
        return max(1, self.replication_factor - 1)

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"{self.host}:{self.node_port(self.port, n)}" for n in self.nodes)

    def client(self, extra: Mapping[str, object] = MappingProxyType({})) -> dict[str, object]:
        """librdkafka's configuration for a client of this broker: the address, the credentials where
        SASL is on, then ``extra``. Every producer, consumer and admin of the product is made from it."""
        auth: dict[str, object] = (
            {
                "security.protocol": self.security_protocol,
                "sasl.mechanism": self.sasl_mechanism,
                "sasl.username": self.sasl_username,
                "sasl.password": self.sasl_password.get_secret_value(),
            }
            if self.sasl
            else {}
        )
        return {"bootstrap.servers": self.bootstrap_servers, **auth, **extra}

    @property
    def topics(self) -> tuple[str, ...]:
        return (self.reports_topic, self.alerts_topic, self.dead_letter_topic)


class S3Settings(_Frozen):
    """The S3 server (MinIO) that holds the warehouse."""

    host: str = "127.0.0.1"
    port: int = 9000
    console_port: int = 9001
    region: str = "us-east-1"
    bucket: str = "warehouse"
    access_key: SecretStr
    secret_key: SecretStr
    # A second identity that may only read the bucket (a MinIO user and policy `stack up` creates): the
    # dashboard's, so that nothing behind a page holds a key that can write the lake.
    reader_access_key: SecretStr
    reader_secret_key: SecretStr
    # Drives the server erasure-codes objects across (MinIO's default parity for 4 drives, EC:2, loses
    # nothing with two gone); one is a plain single-drive server, the 2-core default.
    drives: int = Field(default=1, ge=1, le=16)

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"


class PostgresSettings(_Frozen):
    """The PostgreSQL server holding the Iceberg JDBC catalog and the live alerts table."""

    host: str = "127.0.0.1"
    port: int = 5433
    user: str = "harmony"
    password: SecretStr
    database: str = "lake"
    alerts_table: str = "live_alerts"
    # A role that may only SELECT (the catalog's tables, the live alerts): the dashboard's.
    reader_user: str = "harmony_reader"
    reader_password: SecretStr

    @property
    def sqlalchemy_url(self) -> str:
        pw = self.password.get_secret_value()
        return f"postgresql+psycopg2://{self.user}:{pw}@{self.host}:{self.port}/{self.database}"

    @property
    def jdbc_url(self) -> str:
        return f"jdbc:postgresql://{self.host}:{self.port}/{self.database}"


class SparkSettings(_Frozen):
    """A Spark standalone cluster started from the pyspark installation (``harmony stack spark``)."""

    host: str = "127.0.0.1"
    master_port: int = 7077
    master_webui_port: int = 8090
    worker_webui_port: int = 8091  # the first worker's; the next ones count up
    worker_cores: int = Field(default=1, ge=1)
    worker_memory: str = "1g"
    # Workers `harmony stack up` runs beside a master (0: none, and jobs run in-process on local[*]).
    workers: int = Field(default=0, ge=0, le=8)

    @property
    def master_url(self) -> str:
        return f"spark://{self.host}:{self.master_port}"

    @property
    def default_master(self) -> str:
        """Where `harmony analyze` and the other jobs run unless told: the stack's standalone master when
        the stack runs workers, else in-process."""
        return self.master_url if self.workers else "local[*]"


class ToxiproxySettings(_Frozen):
    """Toxiproxy, the fault-injection proxy of the reliability suite: one proxy in front of each server."""

    host: str = "127.0.0.1"
    port: int = 8474  # its HTTP API
    kafka_port: int = 19092  # -> the broker's proxied listener
    s3_port: int = 19000  # -> MinIO
    postgres_port: int = 15433  # -> PostgreSQL

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


class TrinoSettings(_Frozen):
    """The Trino coordinator that serves SQL on the lake."""

    host: str = "127.0.0.1"
    port: int = 8080  # HTTP: the nodes' own traffic only (clients are refused on it)
    https_port: int = 8443  # every client: HTTPS, a password per user
    user: str = "harmony"
    password: SecretStr  # the platform's user
    shared_secret: SecretStr  # signs the nodes' internal requests
    certificate: Path | None = None  # the server certificate clients trust (default: the stack's own)
    heap: str = "1G"
    # Workers beside the coordinator (which schedules splits on itself too, so a query still runs when
    # every worker is gone); worker n (from 1) serves the nodes' HTTP on worker_port + n - 1.
    workers: int = Field(default=0, ge=0, le=8)
    worker_port: int = 8082
    worker_heap: str = "768M"

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.https_port}"


class CatalogSettings(_Frozen):
    """The one Iceberg catalog that pyiceberg, Spark, Trino and DuckDB all see."""

    name: str = "lake"
    raw_namespace: str = "raw"
    answers_namespace: str = "answers"

    @property
    def read_only_name(self) -> str:
        """Trino's second catalog on the same lake, read-only in the connector itself (the dashboard's)."""
        return f"{self.name}_read"


class RuleSettings(_Frozen):
    """What counts as unrest: shared by the alerting rules and the analytics."""

    low_harmony_threshold: float = Field(default=30.0, ge=0, le=100)
    riot_min_citizens: int = Field(default=10, ge=2)
    riot_window_minutes: float = Field(default=5.0, gt=0)
    citizen_cooldown_minutes: float = Field(default=30.0, ge=0)


class IngestSettings(_Frozen):
    """The stream-to-lake processor: when a batch is flushed into one Iceberg commit."""

    consumer_group: str = "harmony-ingest"
    commit_interval_s: float = Field(default=3.0, gt=0)
    max_rows: int = Field(default=250_000, ge=1)
    max_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    session_timeout_ms: int = Field(default=10_000, ge=1000)
    retain_snapshots: int = Field(default=50, ge=2)


class AlertingSettings(_Frozen):
    """The alerting processor and where its alerts are delivered."""

    consumer_group: str = "harmony-alerting"
    commit_interval_s: float = Field(default=0.25, gt=0)
    delivery_commit_interval_s: float = Field(default=0.05, gt=0)
    webhook_url: str | None = None
    webhook_timeout_s: float = Field(default=2.0, gt=0)
    webhook_attempts: int = Field(default=3, ge=1)
    webhook_retry_s: float = Field(default=2.0, gt=0)
    postgres_retry_s: float = Field(default=1.0, gt=0)
    # Alerts a delivery sink may park on disk while its server is away; then the webhook's oldest go to
    # the dead-letter topic and PostgreSQL's consumer pauses (nothing is dropped silently).
    parking_limit: int = Field(default=100_000, ge=1)

    @property
    def delivery_group(self) -> str:
        """The delivery worker's consumer group on the alerts topic, named after the rules worker's."""
        return f"{self.consumer_group}-delivery"


class DashboardSettings(_Frozen):
    """The Streamlit dashboard, and the limits of the read-only Trino user it queries as."""

    host: str = "127.0.0.1"
    port: int = 8501
    trino_user: str = "dashboard"  # read-only on the lake; its limits are Trino's, not the page's
    trino_password: SecretStr
    # The analysts' Trino user: the same rights, and citizens' names masked by Trino's column masks.
    analyst_trino_user: str = "analyst"
    analyst_trino_password: SecretStr
    # The dashboard's login (asked for when it listens beyond loopback): one password per role.
    operator_password: SecretStr
    analyst_password: SecretStr
    max_rows: int = Field(default=1000, ge=1)
    query_timeout_s: int = Field(default=20, ge=1)
    refresh_s: float = Field(default=2.0, gt=0)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


Topology = Literal["single", "cluster"]

# What HARMONY_TOPOLOGY=cluster (`harmony stack up --cluster`) means where a setting does not say otherwise:
# three brokers with three copies of every partition, four erasure-coded drives, a Trino worker, two Spark
# workers. Each value stays a setting of its own section (HARMONY_KAFKA__BROKERS, ...), which wins.
CLUSTER: Mapping[str, Mapping[str, int]] = MappingProxyType(
    {"kafka": {"brokers": 3}, "s3": {"drives": 4}, "trino": {"workers": 1}, "spark": {"workers": 2}}
)


class Settings(BaseSettings):
    """The whole platform's configuration; load it with :func:`get_settings`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_NESTED_DELIMITER,
        env_file=ENV_FILE,
        extra="ignore",
        frozen=True,
    )

    topology: Topology = "single"
    state_dir: Path = Path(".harmony")
    cache_dir: Path = Path("~/.cache/harmony")
    kafka: KafkaSettings = KafkaSettings()
    s3: S3Settings
    postgres: PostgresSettings
    trino: TrinoSettings
    toxiproxy: ToxiproxySettings = ToxiproxySettings()
    spark: SparkSettings = SparkSettings()
    catalog: CatalogSettings = CatalogSettings()
    rules: RuleSettings = RuleSettings()
    ingest: IngestSettings = IngestSettings()
    alerting: AlertingSettings = AlertingSettings()
    dashboard: DashboardSettings

    @model_validator(mode="before")
    @classmethod
    def _topology_sizes(cls, data: object) -> object:
        """Fill the cluster's sizes in where the topology is ``cluster`` and a section leaves them unset."""
        if not isinstance(data, dict) or data.get("topology") != "cluster":
            return data
        out = dict(data)
        for section, sizes in CLUSTER.items():
            given = out.get(section)
            if given is None or isinstance(given, dict):
                out[section] = {**sizes, **(given or {})}
        return out

    @property
    def warehouse(self) -> str:
        return f"s3://{self.s3.bucket}/"

    @property
    def state_path(self) -> Path:
        return self.state_dir.expanduser().resolve()

    @property
    def cache_path(self) -> Path:
        return self.cache_dir.expanduser().resolve()

    @property
    def trino_certificate(self) -> Path:
        """The certificate Trino's clients verify it by: the settings', else the one `stack up` made."""
        return self.trino.certificate or self.state_path / "trino" / "tls" / "certificate.pem"

    def reader_environment(self) -> dict[str, str]:
        """Variables that give a process the read-only identities in place of the platform's own: the
        dashboard runs with them, so no engine inside it holds a credential that can write."""

        def var(*path: str) -> str:
            return ENV_PREFIX + ENV_NESTED_DELIMITER.join(path).upper()

        return {
            var("s3", "access_key"): self.s3.reader_access_key.get_secret_value(),
            var("s3", "secret_key"): self.s3.reader_secret_key.get_secret_value(),
            var("postgres", "user"): self.postgres.reader_user,
            var("postgres", "password"): self.postgres.reader_password.get_secret_value(),
            var("trino", "password"): self.dashboard.trino_password.get_secret_value(),
            var("trino", "shared_secret"): "",  # signs Trino's node requests: no client needs it
            var("kafka", "sasl_username"): self.kafka.reader_username,
            var("kafka", "sasl_password"): self.kafka.reader_password.get_secret_value(),
        }


def _env_names(loc: tuple[int | str, ...]) -> list[str]:
    """The variables behind a validation error; a missing section expands to its required fields."""
    prefix = ENV_PREFIX + ENV_NESTED_DELIMITER.join(str(p) for p in loc).upper()
    field = Settings.model_fields.get(str(loc[0])) if len(loc) == 1 else None
    section = field.annotation if field is not None else None
    if isinstance(section, type) and issubclass(section, BaseModel):
        required = [n for n, f in section.model_fields.items() if f.is_required()]
        return [f"{prefix}{ENV_NESTED_DELIMITER}{n.upper()}" for n in required]
    return [prefix]


class SettingsError(RuntimeError):
    """Raised when the configuration is incomplete, with what to do about it."""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Load the settings once per process; a missing credential is a one-line, actionable error."""
    try:
        return Settings()
    except ValidationError as exc:
        missing = ", ".join(name for err in exc.errors() for name in _env_names(err["loc"]))
        raise SettingsError(
            f"configuration incomplete ({missing}): run `harmony stack up` once to write local credentials "
            f"to {ENV_FILE}, or set them in the environment"
        ) from exc
