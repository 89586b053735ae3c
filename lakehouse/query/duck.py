"""DuckDB as the embedded query engine over the lake's Iceberg tables, fully offline.

DuckDB cannot download extensions here, so the iceberg, httpfs and avro extensions come from PyPI's
``duckdb-extension-*`` packages (each pinned to the exact DuckDB version) and are loaded by path.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import duckdb
from pyiceberg.table import Table

from lakehouse.settings import Settings, get_settings

EXTENSIONS = ("httpfs", "avro", "iceberg")


def extension_path(name: str) -> Path:
    module = importlib.import_module(f"duckdb_extension_{name}")
    base = Path(module.__file__ or "").parent / "extensions" / f"v{duckdb.__version__}"
    path = base / f"{name}.duckdb_extension"
    if not path.exists():
        raise FileNotFoundError(
            f"DuckDB extension {name} for DuckDB {duckdb.__version__} not found at {path}: "
            f"install duckdb-extension-{name}=={duckdb.__version__}"
        )
    return path


def connect(settings: Settings | None = None, database: str = ":memory:") -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the lake's extensions loaded and an S3 secret for MinIO."""
    settings = settings or get_settings()
    con = duckdb.connect(
        database,
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
    )
    for name in EXTENSIONS:
        con.execute(f"LOAD '{extension_path(name)}'")
    s3 = settings.s3
    con.execute(
        "CREATE OR REPLACE SECRET lake_s3 "
        "(TYPE s3, KEY_ID ?, SECRET ?, REGION ?, ENDPOINT ?, URL_STYLE 'path', USE_SSL false)",
        [
            s3.access_key.get_secret_value(),
            s3.secret_key.get_secret_value(),
            s3.region,
            f"{s3.host}:{s3.port}",
        ],
    )
    return con


class NotARead(ValueError):
    """A statement the read-only path does not run: DuckDB's parser found more than one, or not a SELECT."""


def one_select(sql: str) -> str:
    """``sql`` if DuckDB's own parser finds exactly one statement in it, of type SELECT (which covers
    FROM-first queries, VALUES, SHOW, DESCRIBE and SUMMARIZE); anything else is refused with the reason."""
    # Parsed on a connection of its own with every file access off: DuckDB's parser reads files itself
    # for some statements (IMPORT DATABASE reads the folder's schema.sql).
    parser = duckdb.connect(":memory:", config={"enable_external_access": False, "lock_configuration": True})
    try:
        statements = parser.extract_statements(sql)
    except duckdb.Error as exc:
        raise NotARead(str(exc).splitlines()[0]) from exc
    finally:
        parser.close()
    if len(statements) != 1:
        raise NotARead(f"one statement at a time: DuckDB's parser found {len(statements)}")
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise NotARead(f"only a query runs here: DuckDB's parser found a statement of type {kind.name}")
    return sql


def lock(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """Close ``con`` to everything but reading the warehouse: no file, URL, other bucket, extension or
    attached database, and no setting may be changed back (DuckDB's own permissions, not a word list)."""
    con.execute("SET allowed_directories = ?", [[settings.warehouse]])
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def scan(table: Table) -> str:
    """The SQL table expression reading ``table``'s current snapshot through ``iceberg_scan``."""
    location = table.metadata_location.replace("'", "''")
    return f"iceberg_scan('{location}')"
