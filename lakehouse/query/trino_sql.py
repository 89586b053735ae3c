"""Run SQL on the lake through Trino, the shared SQL server for people and the dashboard."""

from __future__ import annotations

from typing import Any

import requests
import trino
import trino.auth
import trino.exceptions

from lakehouse.settings import Settings, get_settings

# The statement types a read-only user (the dashboard's) runs, by Trino's own classification (its parser's
# query type; an EXPLAIN ANALYZE has the type of the statement it runs). The server admits anything else
# into a resource group of this name, which admits nothing.
READ_QUERY_TYPES = ("SELECT", "EXPLAIN", "DESCRIBE")
REFUSED_GROUP = "refused-not-a-read-statement"


def refused_as_not_a_read(exc: trino.exceptions.TrinoQueryError) -> bool:
    """Whether Trino refused a statement because its type is not a read (see READ_QUERY_TYPES)."""
    return exc.error_name == "QUERY_QUEUE_FULL" and REFUSED_GROUP in (exc.message or "")


def connect(
    settings: Settings | None = None,
    schema: str | None = None,
    user: str | None = None,
    catalog: str | None = None,
    request_timeout: float = 60,
) -> trino.dbapi.Connection:
    """A connection as ``user`` to ``catalog`` (default: the platform's admin user, the lake catalog),
    over HTTPS with that user's password, verifying the server by its certificate."""
    settings = settings or get_settings()
    t, dash = settings.trino, settings.dashboard
    user = user or t.user
    passwords = {dash.trino_user: dash.trino_password, dash.analyst_trino_user: dash.analyst_trino_password}
    password = passwords.get(user, t.password)
    # The session verifies Trino by its own certificate and ignores the environment: requests lets
    # REQUESTS_CA_BUNDLE override a session's ``verify`` (psf/requests#3829), which would then trust the
    # system's authorities instead and refuse the stack's own certificate.
    session = requests.Session()
    session.verify = str(settings.trino_certificate)
    session.trust_env = False
    return trino.dbapi.connect(
        host=t.host,
        port=t.https_port,
        user=user,
        catalog=catalog or settings.catalog.name,
        schema=schema,
        http_scheme="https",
        auth=trino.auth.BasicAuthentication(user, password.get_secret_value()),
        http_session=session,
        request_timeout=request_timeout,
    )


def query(sql: str, settings: Settings | None = None, params: list[Any] | None = None) -> list[list[Any]]:
    """Execute one statement and return all rows."""
    conn = connect(settings)
    try:
        cur = conn.cursor()
        cur.execute(sql, params)
        return [list(r) for r in cur.fetchall()]
    finally:
        conn.close()
