"""Every report into Iceberg, exactly once: the Quix Streams ingest worker and its writer."""

import lakehouse  # noqa: F401  (first: its warning filters apply before Quix Streams is imported)
