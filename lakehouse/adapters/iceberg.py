"""pyiceberg's one seam: every use of a name pyiceberg keeps private lives here, and nowhere else.

pyiceberg is pinned in pyproject; ``tests/lakehouse/adapters/test_iceberg_hooks.py`` checks, server-free,
that each private name relied on below still exists with the signature used. What the exactly-once
writer (``ingest/writer.py``) needs beyond pyiceberg's public API:

- **its Parquet writer on its own** (:func:`write_data_files`): ``_dataframe_to_data_files`` of
  ``pyiceberg.io.pyarrow``, what ``Transaction.append`` calls, so files are written before the commit;
- **a transaction that builds its pending metadata once per change** (:class:`MemoTransaction`), from
  ``Transaction._table`` and ``Transaction._updates``;
- **a failpoint after a catalog's metadata write** (:func:`after_metadata_write`, tests only), around
  ``Catalog._write_metadata``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.io.pyarrow import _dataframe_to_data_files
from pyiceberg.manifest import DataFile
from pyiceberg.table import Table, Transaction
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.update import TableUpdate, update_table_metadata


def write_data_files(
    table: Table, metadata: TableMetadata, rows: pa.Table, write_uuid: UUID
) -> list[DataFile]:
    """``rows`` (already in the table's schema) as data files of ``metadata``'s table, on its FileIO."""
    return list(
        _dataframe_to_data_files(table_metadata=metadata, write_uuid=write_uuid, df=rows, io=table.io)
    )


class MemoTransaction(Transaction):
    """A pyiceberg transaction that builds its pending metadata once per change, not once per read.

    ``Transaction.table_metadata`` re-applies every staged update to a deep copy of the table's metadata
    on each access, and one append reads it about seventeen times: with fifty snapshots retained that
    was most of a commit. The result depends only on the base metadata and the staged updates (an
    immutable tuple, replaced on every change), so it is kept until either changes (through the private
    ``_table`` and ``_updates``). ``test_the_transaction_sees_every_staged_change`` in
    ``tests/ingest/test_writer.py`` checks that a staged change is always seen.
    """

    _memo: tuple[TableMetadata, tuple[TableUpdate, ...], TableMetadata] | None = None

    @property
    def table_metadata(self) -> TableMetadata:
        base, updates = self._table.metadata, self._updates
        memo = self._memo
        if memo is not None and memo[0] is base and memo[1] is updates:
            return memo[2]
        metadata = update_table_metadata(base, updates)
        self._memo = (base, updates, metadata)
        return metadata


def after_metadata_write(catalog: Catalog, then: Callable[[], None]) -> None:
    """Call ``then`` after each metadata file ``catalog`` writes, before it swaps the table to it."""
    write = catalog._write_metadata  # type: ignore[attr-defined]

    def write_then(*args: Any, **kwargs: Any) -> None:
        write(*args, **kwargs)
        then()

    catalog._write_metadata = write_then  # type: ignore[attr-defined]
