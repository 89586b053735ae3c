"""The one place a Spark session is made: Iceberg runtime, the lake's JDBC catalog, S3FileIO on MinIO.

Spark resolves the pinned Iceberg and PostgreSQL jars from Maven Central into the download cache
(``spark.jars.ivy``), so a second run is offline. The catalog is named like the others (``lake``), on the
same PostgreSQL database and warehouse, so Spark sees exactly the tables ingest wrote.
"""

from __future__ import annotations

import os
import sys

from pyspark.sql import SparkSession

from lakehouse import versions
from lakehouse.settings import Settings

PACKAGES = (
    f"org.apache.iceberg:iceberg-spark-runtime-{versions.SPARK_MINOR}_{versions.SPARK_SCALA}:{versions.ICEBERG}",
    f"org.apache.iceberg:iceberg-aws-bundle:{versions.ICEBERG}",
    f"org.postgresql:postgresql:{versions.POSTGRES_JDBC}",
)


def _engine(master: str, app_name: str) -> SparkSession.Builder:
    """The engine's settings every session shares: a modest driver, few shuffle partitions, no UI, UTC."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.driver.memory", os.environ.get("HARMONY_SPARK_DRIVER_MEMORY", "2g"))
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
    )


def local_session(app_name: str = "harmony-local", master: str = "local[1]") -> SparkSession:
    """The same engine without the lake (no jars, no catalog, no server): what the pure DataFrame functions
    of ``spark/answers.py`` and ``spark/failure_features.py`` are tested on, in-process, on small frames."""
    spark = _engine(master, app_name).config("spark.driver.memory", "512m").getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def session(settings: Settings, master: str = "local[*]", app_name: str = "harmony") -> SparkSession:
    """A Spark session on ``master`` (``local[*]``, ``spark://…`` or ``k8s://…``) with the lake catalog."""
    import pyspark

    if not pyspark.__version__.startswith(versions.SPARK_MINOR):
        raise RuntimeError(
            f"pyspark {pyspark.__version__} does not match the Iceberg runtime for {versions.SPARK_MINOR}"
        )
    s3, pg, name = settings.s3, settings.postgres, settings.catalog.name
    cat = f"spark.sql.catalog.{name}"
    builder = (
        _engine(master, app_name)
        .config("spark.jars.packages", ",".join(PACKAGES))
        .config("spark.jars.ivy", str(settings.cache_path / "ivy"))
        .config("spark.sql.extensions", "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions")
        .config(cat, "org.apache.iceberg.spark.SparkCatalog")
        .config(f"{cat}.catalog-impl", "org.apache.iceberg.jdbc.JdbcCatalog")
        .config(f"{cat}.uri", pg.jdbc_url)
        .config(f"{cat}.jdbc.user", pg.user)
        .config(f"{cat}.jdbc.password", pg.password.get_secret_value())
        .config(f"{cat}.warehouse", settings.warehouse)
        .config(f"{cat}.io-impl", "org.apache.iceberg.aws.s3.S3FileIO")
        .config(f"{cat}.s3.endpoint", s3.endpoint)
        .config(f"{cat}.s3.path-style-access", "true")
        .config(f"{cat}.s3.access-key-id", s3.access_key.get_secret_value())
        .config(f"{cat}.s3.secret-access-key", s3.secret_key.get_secret_value())
        .config(f"{cat}.client.region", s3.region)
        .config("spark.sql.defaultCatalog", name)
    )
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark
