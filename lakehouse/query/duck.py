"""DuckDB as the embedded query engine over the lake's Iceberg tables, fully offline.

DuckDB cannot download extensions here, so the iceberg, httpfs and avro extensions come from PyPI's
``duckdb-extension-*`` packages (each pinned to the exact DuckDB version) and are loaded by path.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import orjson
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


# Table functions a query may call: they compute rows and read nothing.
PURE_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})
_TABLE_REFS = frozenset({"BASE_TABLE", "TABLE_FUNCTION"})


def _walk(node: object) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def only_lake_tables(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Refuse a query that reads anything but the lake's views (and its own CTEs), by DuckDB's own parse
    tree (``json_serialize_sql``): no table function that reads (``read_text``, ``glob``, ``pandas_scan``,
    ``duckdb_secrets`` ...) and no path or URL as a table (a replacement scan), for the lock alone lets
    a warehouse path through with its own endpoint in the query string (``s3://warehouse/x?s3_endpoint=``)."""
    (serialized,) = con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone() or ("{}",)
    tree = orjson.loads(serialized)
    if tree.get("error", True):
        raise NotARead(str(tree.get("error_message", "DuckDB could not parse the query")))
    views = {
        (str(schema).lower(), str(name).lower())
        for schema, name in con.execute(
            "SELECT schema_name, view_name FROM duckdb_views() WHERE NOT internal"
        ).fetchall()
    }
    nodes = list(_walk(tree["statements"]))
    ctes = {
        str(entry["key"]).lower()
        for n in nodes
        if isinstance(n.get("cte_map"), dict)
        for entry in n["cte_map"]["map"]
    }
    for ref in nodes:
        kind = ref.get("type")
        if not isinstance(kind, str) or kind not in _TABLE_REFS or "class" in ref:  # expressions have a class
            continue
        if ref["type"] == "TABLE_FUNCTION":
            function = ref.get("function") or {}
            name = str(function.get("function_name", "")).lower()
            if name not in PURE_TABLE_FUNCTIONS or function.get("schema") or function.get("catalog"):
                raise NotARead(f"only the lake's tables are read here: {name}(...) reads elsewhere")
            continue
        schema, table = str(ref.get("schema_name", "")).lower(), str(ref.get("table_name", "")).lower()
        if ref.get("catalog_name") or not ((schema, table) in views or (not schema and table in ctes)):
            shown = f"{schema}.{table}" if schema else table
            raise NotARead(f"only the lake's tables are read here: {shown[:200]!r} is not one")


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
