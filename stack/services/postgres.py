"""PostgreSQL from Debian's packages, holding the Iceberg JDBC catalog and the live alerts table."""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import psycopg2
import psycopg2.extensions

from lakehouse import versions
from lakehouse.settings import Settings
from stack import debian
from stack.services.base import Service, ServiceError

# PostgreSQL refuses to run as root; Debian's package creates this user.
UNPRIVILEGED_USER = "postgres"


def _traversable_by(user: str, path: Path) -> bool:
    """Whether ``user`` may enter every directory on the way to ``path``."""
    entry = pwd.getpwnam(user)
    for folder in [path, *path.parents]:
        if not folder.exists():
            continue
        st = folder.stat()
        if st.st_uid == entry.pw_uid:
            ok = st.st_mode & 0o100
        elif st.st_gid == entry.pw_gid:
            ok = st.st_mode & 0o010
        else:
            ok = st.st_mode & 0o001
        if not ok:
            return False
    return True


def postgres_bindir() -> Path | None:
    """The newest installed server's bin folder, e.g. /usr/lib/postgresql/15/bin."""
    root = Path("/usr/lib/postgresql")
    found = sorted(
        (p for p in root.glob("*/bin") if (p / "postgres").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    return found[-1] if found else None


class Postgres(Service):
    name = "postgres"
    # SIGINT is PostgreSQL's "fast" shutdown: it does not wait for clients to disconnect.
    stop_signal = signal.SIGINT

    @property
    def host(self) -> str:
        return self.settings.postgres.host

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.settings.postgres.port,)

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        user = self.run_as()
        if user is not None and not _traversable_by(user, self.home.parent):
            # The state folder sits under a directory that user cannot enter (e.g. /root): keep the
            # cluster in a folder of its own, named after the state folder so stacks never share one.
            digest = hashlib.sha256(str(settings.state_path).encode()).hexdigest()[:12]
            self.home = Path("/var/lib/harmony") / digest / self.name

    @property
    def marker(self) -> str:
        return str(self.data)

    @property
    def data(self) -> Path:
        return self.home / "data"

    def find_own_process(self) -> int | None:
        """PostgreSQL names its postmaster in its data folder (``postmaster.pid``, first line)."""
        try:
            return int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def install(self) -> None:
        if postgres_bindir() is not None:
            return
        try:
            debian.apt_install(versions.POSTGRES_DEBIAN_PACKAGE)
        except debian.PackageError as exc:
            raise ServiceError(self.name, f"PostgreSQL server: {exc}") from exc
        # Debian starts its own cluster on 5432; this stack runs its own server and leaves that one alone.

    def run_as(self) -> str | None:
        return UNPRIVILEGED_USER if os.geteuid() == 0 else None

    def _bin(self, tool: str) -> str:
        bindir = postgres_bindir()
        if bindir is None:
            raise ServiceError(self.name, "PostgreSQL server binaries not found under /usr/lib/postgresql")
        return str(bindir / tool)

    def prepare(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True, mode=0o755)
        user = self.run_as()
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(self.home, entry.pw_uid, entry.pw_gid)
        if (self.data / "PG_VERSION").exists():
            return
        pg = self.settings.postgres
        with tempfile.NamedTemporaryFile("w", dir=self.home, delete=False) as pwfile:
            pwfile.write(pg.password.get_secret_value() + "\n")
        try:
            if user is not None:
                entry = pwd.getpwnam(user)
                os.chown(pwfile.name, entry.pw_uid, entry.pw_gid)
            proc = subprocess.run(
                [
                    self._bin("initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    pg.user,
                    f"--pwfile={pwfile.name}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C",
                ],
                capture_output=True,
                text=True,
                user=user,
                cwd=self.home,
                check=False,
                timeout=300,
            )
        finally:
            Path(pwfile.name).unlink(missing_ok=True)
        if proc.returncode != 0:
            shutil.rmtree(self.data, ignore_errors=True)
            raise ServiceError(self.name, "initdb failed: " + proc.stderr.strip()[-400:])

    def command(self) -> list[str]:
        pg = self.settings.postgres
        return [
            self._bin("postgres"),
            "-D",
            str(self.data),
            "-c",
            f"listen_addresses={pg.host}",
            "-c",
            f"port={pg.port}",
            "-c",
            f"unix_socket_directories={self.home}",
            "-c",
            "max_connections=200",
            "-c",
            "shared_buffers=128MB",
            "-c",
            "fsync=on",
        ]

    def _connect(self, database: str) -> psycopg2.extensions.connection:
        pg = self.settings.postgres
        return psycopg2.connect(
            host=pg.host,
            port=pg.port,
            user=pg.user,
            password=pg.password.get_secret_value(),
            dbname=database,
            connect_timeout=2,
        )

    def check_health(self) -> None:
        conn = self._connect("postgres")
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1")
                if cur.fetchone() != (1,):
                    raise RuntimeError("SELECT 1 did not return 1")
        finally:
            conn.close()

    def provision(self) -> None:
        from psycopg2 import sql

        pg = self.settings.postgres
        conn = self._connect("postgres")
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (pg.database,))
                if cur.fetchone() is None:
                    cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(pg.database)))
        finally:
            conn.close()
        self._provision_reader()

    def _provision_reader(self) -> None:
        """The read-only role (the dashboard's): it may connect and SELECT the lake database's tables,
        those there now and those the platform's user creates later (the catalog's, the live alerts)."""
        from psycopg2 import sql

        pg = self.settings.postgres
        reader, owner = sql.Identifier(pg.reader_user), sql.Identifier(pg.user)
        conn = self._connect(pg.database)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (pg.reader_user,))
                verb = "ALTER" if cur.fetchone() is not None else "CREATE"
                cur.execute(
                    sql.SQL(verb + " ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %s").format(
                        reader
                    ),
                    (pg.reader_password.get_secret_value(),),
                )
                for statement in (
                    "REVOKE ALL ON DATABASE {db} FROM PUBLIC",
                    "GRANT CONNECT ON DATABASE {db} TO {reader}",
                    "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
                    "GRANT USAGE ON SCHEMA public TO {reader}",
                    "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {reader}",
                    "ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public "
                    "GRANT SELECT ON TABLES TO {reader}",
                ):
                    cur.execute(
                        sql.SQL(statement).format(db=sql.Identifier(pg.database), reader=reader, owner=owner)
                    )
        finally:
            conn.close()
