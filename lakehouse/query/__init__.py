"""The engines and stores that answer questions about the lake, beside the contract (``lakehouse``),
which stays free of them: Trino (the shared SQL server), DuckDB (embedded, offline) and PostgreSQL's
live alerts table. ``engines`` runs one statement on either SQL engine with the same table names."""
