"""The Iceberg catalog every Python component uses: pyiceberg's SqlCatalog on PostgreSQL, files on S3.

Spark and Trino are configured with the same catalog name, JDBC database and warehouse, so all engines
see the same tables.
"""

from __future__ import annotations

from pyiceberg.catalog.sql import SqlCatalog

from lakehouse.settings import Settings, get_settings


def s3_properties(settings: Settings) -> dict[str, str]:
    """pyiceberg FileIO properties for the warehouse on S3 (MinIO: path-style addressing)."""
    s3 = settings.s3
    return {
        "s3.endpoint": s3.endpoint,
        "s3.access-key-id": s3.access_key.get_secret_value(),
        "s3.secret-access-key": s3.secret_key.get_secret_value(),
        "s3.region": s3.region,
        "s3.path-style-access": "true",
        "py-io-impl": "pyiceberg.io.pyarrow.PyArrowFileIO",
    }


def catalog_properties(settings: Settings) -> dict[str, str]:
    return {
        "uri": settings.postgres.sqlalchemy_url,
        "warehouse": settings.warehouse,
        "init_catalog_tables": "true",
        "pool_pre_ping": "true",
        **s3_properties(settings),
    }


def load_catalog(settings: Settings | None = None) -> SqlCatalog:
    """Return the ``lake`` catalog; creates the JDBC catalog tables on first use."""
    settings = settings or get_settings()
    return SqlCatalog(settings.catalog.name, **catalog_properties(settings))
