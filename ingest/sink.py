"""A Quix Streams sink that lands a topic in Iceberg through the exactly-once writer.

``add`` only buffers raw bytes and their Kafka coordinates, a run of a partition's messages at a time
(``lakehouse.streaming.runs``: Quix hands the source topic over in runs, not message by message).
Every full chunk of messages is prepared in a background thread while Quix keeps polling: decoded and
validated in Arrow, projected into each table's rows, and written as data files (files nothing refers
to yet, like the files Iceberg's Kafka Connect sink writes between commits). ``flush``, called by Quix at each
checkpoint, prepares the rest, dead-letters the rejects and commits every table once, for every
partition this worker owns, fenced by the lake's offsets. Quix commits the Kafka offsets only after
``flush`` returns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
from pyiceberg.exceptions import CommitStateUnknownException
from pyiceberg.manifest import DataFile
from quixstreams.sinks.base import BaseSink, SinkBackpressureError
from sqlalchemy.exc import InterfaceError, OperationalError

from ingest.failpoints import failpoint
from ingest.streams import Stream
from ingest.writer import OFFSET_COLUMN, PARTITION_COLUMN, CommitResult, ExactlyOnceWriter, TableBatch
from lakehouse.batch_codec import DecodedBatch, decode_batch
from lakehouse.dead_letters import DeadLetterProducer, envelope
from lakehouse.streaming.runs import MessageRun
from lakehouse.tables import TableSpec

logger = logging.getLogger("harmony.ingest")

# Failures of a server the sink needs (S3, the catalog database, the broker), not of the data: ride them out.
TRANSIENT = (OSError, OperationalError, InterfaceError, CommitStateUnknownException)

# Messages per background chunk: decoded, projected and written as data files while Quix keeps polling
# (as Iceberg's Kafka Connect sink writes files continuously and only commits at intervals). Big enough
# to amortise Arrow's per-call cost and to keep data files from being tiny.
DECODE_CHUNK = 25_000
DECODE_THREADS = 2


@dataclass
class _Chunk:
    """A part of the batch made ready ahead of the commit: decoded, with each table's rows and files."""

    decoded: DecodedBatch  # indexes relative to the chunk's first message
    rows: dict[TableSpec, pa.Table]  # with PARTITION_COLUMN and OFFSET_COLUMN
    files: dict[TableSpec, list[DataFile]] = field(default_factory=dict)


class IcebergSink(BaseSink):
    def __init__(
        self,
        stream: Stream,
        topic: str,
        writer: ExactlyOnceWriter,
        dead_letters: DeadLetterProducer,
        lag: Callable[[dict[int, int]], dict[int, int]] = lambda _o: {},
    ) -> None:
        super().__init__()
        self.stream = stream
        self.topic = topic
        self.writer = writer
        self.dead_letters = dead_letters
        self.lag = lag
        self.owned: set[int] = set()
        self._decoder = ThreadPoolExecutor(max_workers=DECODE_THREADS, thread_name_prefix="decode")
        self.landed_rows = 0
        self.received = 0  # messages handed to this sink, landed or not
        self.dead_lettered = 0
        self.commits = 0
        self._outage_s = 0.0  # the current back-off while a server is away; 0 when all is well
        self._reset()

    def _reset(self) -> None:
        self._values: list[bytes | None] = []
        self._keys: list[bytes | None] = []
        self._partitions: list[int] = []
        self._offsets: list[int] = []
        self._next: dict[int, int] = {}
        self._chunks: list[tuple[int, Future[_Chunk]]] = []
        self._decoded_upto = 0
        self.buffered_bytes = 0

    @property
    def buffered(self) -> int:
        return len(self._values)

    def add(
        self,
        value: MessageRun,
        key: Any,
        timestamp: int,
        headers: Any,
        topic: str,
        partition: int,
        offset: int,
    ) -> None:
        """Buffer one run of the partition's messages (``lakehouse.streaming.runs``): raw bytes only."""
        self._values += value.values
        self.received += len(value)
        self._keys += value.keys
        self._partitions += [partition] * len(value)
        self._offsets += value.offsets
        self._next[partition] = value.offsets[-1] + 1
        self.buffered_bytes += value.size
        self._decode_ahead()

    def _decode_ahead(self) -> None:
        """Prepare full chunks in a background thread while Quix keeps polling (Arrow and Parquet release
        the GIL): decode, project each table's rows, write their data files."""
        if len(self._values) - self._decoded_upto >= DECODE_CHUNK:
            start, self._decoded_upto = self._decoded_upto, len(self._values)
            end = self._decoded_upto
            future = self._decoder.submit(
                self._prepare,
                self._values[start:end],
                self._partitions[start:end],
                self._offsets[start:end],
                True,
            )
            self._chunks.append((start, future))

    def _prepare(
        self, values: list[bytes | None], partitions: list[int], offsets: list[int], write: bool
    ) -> _Chunk:
        decoded = decode_batch(self.stream.model, values)
        rows = np.asarray(decoded.rows, dtype=np.int64)
        part, off = np.asarray(partitions, dtype=np.int32), np.asarray(offsets, dtype=np.int64)
        chunk = _Chunk(decoded, {})
        for spec, project in self.stream.tables:
            table, parents = project(decoded.table)
            source = rows if parents is None else rows[parents.to_numpy()]
            chunk.rows[spec] = table.append_column(PARTITION_COLUMN, pa.array(part[source])).append_column(
                OFFSET_COLUMN, pa.array(off[source])
            )
            if write:
                chunk.files[spec] = self.writer.write_files(spec, chunk.rows[spec])
        return chunk

    def release(self, partitions: Iterable[int]) -> None:
        """Forget partitions this worker no longer owns, and anything buffered for them."""
        gone = set(partitions)
        self.owned -= gone
        if not gone or not self._values:
            return
        for _, fut in self._chunks:
            fut.cancel()
        keep = [i for i, p in enumerate(self._partitions) if p not in gone]
        values, keys = [self._values[i] for i in keep], [self._keys[i] for i in keep]
        partitions_, offsets = [self._partitions[i] for i in keep], [self._offsets[i] for i in keep]
        next_ = {p: o for p, o in self._next.items() if p not in gone}
        self._reset()
        self._values, self._keys, self._partitions, self._offsets, self._next = (
            values,
            keys,
            partitions_,
            offsets,
            next_,
        )
        self.buffered_bytes = sum(len(v) for v in values if v)

    def flush(self) -> None:
        """Land the batch; while S3, the catalog or the broker is away, hand the batch back to Quix.

        A server that is down (or a commit whose outcome is unknown) is not a reason to exit: the batch is
        dropped and ``SinkBackpressureError`` makes Quix pause, seek back to the last committed offsets
        and replay it after a back-off. The lake's offsets keep the replay exact (the writer's steps 1-2
        skip whatever a commit that did land already holds); data files written before the failure are
        orphans, which ``harmony lake maintain`` removes.
        """
        if not self._values:
            return
        try:
            self._land()
        except TRANSIENT as exc:
            self._reset()
            self._outage_s = min(30.0, self._outage_s * 2) if self._outage_s else 1.0
            first = (str(exc).strip() or type(exc).__name__).splitlines()[0]
            if len(first) > 400:  # keep the cause, which S3 errors put at the end
                first = f"{first[:200]} ... {first[-200:]}"
            logger.warning(
                "a server is unreachable or failing (%s: %s); batch dropped, replayed from Kafka in %.0fs",
                type(exc).__name__, first, self._outage_s,
            )  # fmt: skip
            raise SinkBackpressureError(retry_after=self._outage_s) from None
        if self._outage_s:
            logger.warning("servers reachable again; landing resumed")
            self._outage_s = 0.0

    def _land(self) -> None:
        # 1. The whole batch decoded and validated against the contract (Arrow fast path), each table's
        # rows tagged with the partition and offset of their message: the chunks prepared in the
        # background (their data files already written), plus the rest, prepared now.
        chunks = [(start, fut.result()) for start, fut in self._chunks]
        if self._decoded_upto < len(self._values):
            start = self._decoded_upto
            rest = self._prepare(self._values[start:], self._partitions[start:], self._offsets[start:], False)
            chunks.append((start, rest))
        rejected = [(start + i, e) for start, c in chunks for i, e in c.decoded.rejected]

        # 2. Dead-letter the rejects and wait until Kafka has them: a bad message is never dropped.
        for index, error in rejected:
            key, value, headers = envelope(
                error,
                self._values[index],
                self._keys[index],
                self.topic,
                self._partitions[index],
                self._offsets[index],
                f"ingest-{self.stream.name}",
                self.dead_letters.max_bytes,
            )
            self.dead_letters.send(key, value, headers)  # waits while librdkafka's queue is full
        if rejected:
            self.dead_letters.flush(30)  # DeadLettersUndelivered (a ConnectionError): not committed
            self.dead_lettered += len(rejected)

        # 3. Each table's batch: the segments already written, and the rows still to write.
        batches = {}
        for spec, _ in self.stream.tables:
            unwritten = [c.rows[spec] for _, c in chunks if spec not in c.files]
            batches[spec] = TableBatch(
                pa.concat_tables(unwritten) if unwritten else chunks[0][1].rows[spec].slice(0, 0),
                [(c.rows[spec], c.files[spec]) for _, c in chunks if spec in c.files],
            )

        # 4. One Iceberg commit per table with the next offsets; fenced on what this worker owns.
        results = self.writer.commit(batches, dict(self._next), owned=lambda p: p in self.owned)
        failpoint("ingest.before_kafka_commit")  # every table committed, Kafka's offsets not yet
        self._log(results, len(rejected))
        self.landed_rows += results[0].rows if results else 0
        self.commits += 1
        self._reset()

    def _log(self, results: list[CommitResult], rejected: int) -> None:
        lag = self.lag(self._next)
        for r in results:
            logger.info(
                orjson.dumps(
                    {
                        "event": "commit",
                        "table": r.table,
                        "rows": r.rows,
                        "skipped_rows": r.skipped_rows,
                        "dead_lettered": rejected,
                        "files": r.files,
                        "bytes": r.bytes,
                        "attempts": r.attempts,
                        "flush_ms": round(r.duration_ms, 1),
                        "write_ms": round(r.write_ms, 1),
                        "commit_ms": round(r.commit_ms, 1),
                        "snapshot_id": r.snapshot_id,
                        "lag": {str(p): n for p, n in sorted(lag.items())},
                    }
                ).decode()
            )
