"""Riot alerts from the report stream: the rules worker and the delivery worker."""

import lakehouse  # noqa: F401  (first: its warning filters apply before Quix Streams is imported)
