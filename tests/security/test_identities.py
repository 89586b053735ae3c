"""Who may do what on the real servers: Trino authenticates every client, the dashboard's identities can
only read, and the dashboard process holds no other."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import httpx
import psycopg2
import pytest
import trino.exceptions
from pyarrow import fs

from lakehouse.query import trino_sql
from lakehouse.settings import Settings
from lakehouse.storage import s3_filesystem
from testkit.browser import DashboardServer
from testkit.lakes import settings_seen_by


def statement(
    settings: Settings, auth: tuple[str, str] | None = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    """A raw request to Trino's statement endpoint, as any local process could send it."""
    return httpx.post(
        f"{settings.trino.url}/v1/statement",
        content=b"SELECT 1",
        headers={"X-Trino-User": "anybody", **(headers or {})},
        auth=auth,
        verify=str(settings.trino_certificate),
        timeout=10,
    )


def test_trino_refuses_a_request_without_credentials(stack: Settings) -> None:
    assert statement(stack).status_code == 401


def test_trino_refuses_a_wrong_password(stack: Settings) -> None:
    for user in (stack.trino.user, stack.dashboard.trino_user):
        assert statement(stack, auth=(user, "wrong")).status_code == 401
    dashboard_with_platform_password = (stack.dashboard.trino_user, stack.trino.password.get_secret_value())
    assert statement(stack, auth=dashboard_with_platform_password).status_code == 401


def test_trino_refuses_clients_on_plain_http(stack: Settings) -> None:
    """The HTTP port serves the nodes' own signed requests only: a header naming a user gets nothing."""
    plain = f"http://{stack.trino.host}:{stack.trino.port}/v1/statement"
    response = httpx.post(plain, content=b"SELECT 1", headers={"X-Trino-User": stack.trino.user}, timeout=10)
    assert response.status_code in {401, 403}, response.text[:200]


def test_trino_refuses_impersonation(stack: Settings) -> None:
    """Authenticated as the dashboard, a client may not ask to run as the platform's user."""
    auth = (stack.dashboard.trino_user, stack.dashboard.trino_password.get_secret_value())
    response = statement(stack, auth=auth, headers={"X-Trino-User": stack.trino.user})
    if response.status_code == 200:  # accepted for queueing: the refusal comes with the first result
        body = response.json()
        while "nextUri" in body and "error" not in body:
            body = httpx.get(
                body["nextUri"], auth=auth, verify=str(stack.trino_certificate), timeout=10
            ).json()
        assert "error" in body and "impersonate" in body["error"]["message"].lower(), body
    else:
        assert response.status_code in {401, 403}


def test_trino_serves_each_user_with_its_password(stack: Settings) -> None:
    assert trino_sql.query("SELECT current_user", stack) == [[stack.trino.user]]
    conn = trino_sql.connect(stack, user=stack.dashboard.trino_user, catalog=stack.catalog.read_only_name)
    try:
        cur = conn.cursor()
        cur.execute("SELECT current_user")
        assert cur.fetchall() == [[stack.dashboard.trino_user]]
    finally:
        conn.close()  # type: ignore[no-untyped-call]


def test_trino_verifies_the_servers_certificate(stack: Settings, tmp_path: Path) -> None:
    """A client given another certificate refuses the server (no silent trust of whatever answers)."""
    from stack import tls

    _key, other = tls.self_signed("someone-else", ["127.0.0.1"])
    (tmp_path / "other.pem").write_bytes(other)
    wrong = stack.model_copy(
        update={"trino": stack.trino.model_copy(update={"certificate": tmp_path / "other.pem"})}
    )
    with pytest.raises(trino.exceptions.TrinoConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
        trino_sql.query("SELECT 1", wrong)


def reader(stack: Settings) -> Settings:
    return settings_seen_by({**os.environ, **stack.reader_environment()})


def test_the_read_only_s3_identity_reads_and_cannot_write(stack: Settings) -> None:
    s3 = s3_filesystem(reader(stack))
    bucket = stack.s3.bucket
    assert s3.get_file_info(fs.FileSelector(bucket, recursive=False)) is not None
    with (
        pytest.raises(OSError, match=r"(?i)access.?denied|forbidden|403"),
        s3.open_output_stream(f"{bucket}/stolen-{uuid.uuid4().hex}") as out,
    ):
        out.write(b"x")
    with pytest.raises(OSError, match=r"(?i)access.?denied|forbidden|403"):
        s3.create_dir(f"stolen-{uuid.uuid4().hex[:8]}")


def test_the_read_only_postgres_role_reads_and_cannot_write(stack: Settings) -> None:
    pg = stack.postgres
    conn = psycopg2.connect(
        host=pg.host, port=pg.port, dbname=pg.database, user=pg.reader_user,
        password=pg.reader_password.get_secret_value(), connect_timeout=5,
    )  # fmt: skip
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM iceberg_tables")
            assert cur.fetchone() is not None
            for write in (
                "DELETE FROM iceberg_tables",
                "UPDATE iceberg_tables SET metadata_location = 'x'",
                "CREATE TABLE stolen (x int)",
                "INSERT INTO iceberg_namespace_properties VALUES ('lake', 'x', 'k', 'v')",
            ):
                with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                    cur.execute(write)
    finally:
        conn.close()


def test_the_dashboard_process_holds_only_read_only_identities(stack: Settings, tmp_path: Path) -> None:
    with DashboardServer(dict(os.environ), tmp_path) as served:
        assert served.proc is not None
        environ = Path(f"/proc/{served.proc.pid}/environ").read_bytes().split(b"\0")
    env = dict(item.decode().split("=", 1) for item in environ if b"=" in item)
    assert env["HARMONY_S3__ACCESS_KEY"] == stack.s3.reader_access_key.get_secret_value()
    assert env["HARMONY_S3__SECRET_KEY"] == stack.s3.reader_secret_key.get_secret_value()
    assert env["HARMONY_POSTGRES__USER"] == stack.postgres.reader_user
    assert env["HARMONY_POSTGRES__PASSWORD"] == stack.postgres.reader_password.get_secret_value()
    assert env["HARMONY_TRINO__PASSWORD"] == stack.dashboard.trino_password.get_secret_value()
    platform = [stack.s3.secret_key, stack.postgres.password, stack.trino.password]
    assert not any(secret.get_secret_value() in env.values() for secret in platform)
