"""The four analytic answers: PySpark batch jobs over the Iceberg tables."""

import lakehouse  # noqa: F401  (first: its warning filters apply before pyiceberg is imported)
