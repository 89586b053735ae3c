"""A Quix Streams sink that lands a topic in Iceberg through the exactly-once writer.

``add`` only buffers raw bytes and their Kafka coordinates (cheap, per message). ``flush``, called by
Quix at each checkpoint, does the work for the whole batch: decode and validate in Arrow, dead-letter
the rejects, build each table's rows, and commit them all in one Iceberg commit per table, for every
partition this worker owns. Quix commits the Kafka offsets only after ``flush`` returns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
from confluent_kafka import Producer
from pyiceberg.exceptions import CommitStateUnknownException
from quixstreams.sinks.base import BaseSink, SinkBackpressureError
from sqlalchemy.exc import InterfaceError, OperationalError

from ingest.failpoints import failpoint
from ingest.streams import Stream
from ingest.writer import OFFSET_COLUMN, PARTITION_COLUMN, CommitResult, ExactlyOnceWriter, TableBatch
from lakehouse.batch_codec import DecodedBatch, decode_batch
from lakehouse.dead_letters import envelope

logger = logging.getLogger("harmony.ingest")

# Failures of a server the sink needs (S3, the catalog database, the broker), not of the data: ride them out.
TRANSIENT = (OSError, OperationalError, InterfaceError, CommitStateUnknownException)

# Messages per background decode chunk: big enough to amortise Arrow's per-call cost.
DECODE_CHUNK = 20_000


class IcebergSink(BaseSink):
    def __init__(
        self,
        stream: Stream,
        topic: str,
        writer: ExactlyOnceWriter,
        dead_letters: Producer,
        dead_letter_topic: str,
        max_message_bytes: int,
        lag: Callable[[dict[int, int]], dict[int, int]] = lambda _o: {},
    ) -> None:
        super().__init__()
        self.stream = stream
        self.topic = topic
        self.writer = writer
        self.dead_letters = dead_letters
        self.dead_letter_topic = dead_letter_topic
        self.lag = lag
        self.max_message_bytes = max_message_bytes
        self.owned: set[int] = set()
        self._decoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="decode")
        self.landed_rows = 0
        self.dead_lettered = 0
        self.commits = 0
        self._outage_s = 0.0  # the current back-off while a server is away; 0 when all is well
        self._reset()

    def _reset(self) -> None:
        self._values: list[bytes] = []
        self._keys: list[bytes | None] = []
        self._partitions: list[int] = []
        self._offsets: list[int] = []
        self._next: dict[int, int] = {}
        self._chunks: list[tuple[int, Future[DecodedBatch]]] = []
        self._decoded_upto = 0
        self.buffered_bytes = 0

    @property
    def buffered(self) -> int:
        return len(self._values)

    def add(
        self,
        value: Any,
        key: Any,
        timestamp: int,
        headers: Any,
        topic: str,
        partition: int,
        offset: int,
    ) -> None:
        self._values.append(value)
        self._keys.append(key)
        self._partitions.append(partition)
        self._offsets.append(offset)
        self._next[partition] = offset + 1
        self.buffered_bytes += len(value) if value else 0
        self._decode_ahead()

    def _decode_ahead(self) -> None:
        """Decode full chunks in a background thread while Quix keeps polling (Arrow releases the GIL)."""
        if len(self._values) - self._decoded_upto >= DECODE_CHUNK:
            start, self._decoded_upto = self._decoded_upto, len(self._values)
            chunk = self._values[start : self._decoded_upto]
            self._chunks.append((start, self._decoder.submit(decode_batch, self.stream.model, chunk)))

    def _decoded(self) -> DecodedBatch:
        """The whole buffered batch decoded: finished chunks plus the remainder."""
        parts = [(start, fut.result()) for start, fut in self._chunks]
        if self._decoded_upto < len(self._values):
            parts.append(
                (self._decoded_upto, decode_batch(self.stream.model, self._values[self._decoded_upto :]))
            )
        if len(parts) == 1 and parts[0][0] == 0:
            return parts[0][1]
        return DecodedBatch(
            pa.concat_tables([d.table for _, d in parts]),
            [start + i for start, d in parts for i in d.rows],
            [(start + i, e) for start, d in parts for i, e in d.rejected],
        )

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
            first = (str(exc).strip() or type(exc).__name__).splitlines()[0][:300]
            logger.warning(
                "a server is unreachable (%s: %s); batch dropped, replayed from Kafka in %.0fs",
                type(exc).__name__, first, self._outage_s,
            )  # fmt: skip
            raise SinkBackpressureError(retry_after=self._outage_s) from None
        if self._outage_s:
            logger.warning("servers reachable again; landing resumed")
            self._outage_s = 0.0

    def _land(self) -> None:
        # 1. Decode and validate the whole batch against the contract (Arrow fast path).
        decoded = self._decoded()
        partitions = np.asarray(self._partitions, dtype=np.int32)
        offsets = np.asarray(self._offsets, dtype=np.int64)

        # 2. Dead-letter the rejects and wait until Kafka has them: a bad message is never dropped.
        for index, error in decoded.rejected:
            key, value, headers = envelope(
                error,
                self._values[index],
                self._keys[index],
                self.topic,
                int(partitions[index]),
                int(offsets[index]),
                f"ingest-{self.stream.name}",
                self.max_message_bytes,
            )
            self.dead_letters.produce(self.dead_letter_topic, value=value, key=key, headers=headers)
        if decoded.rejected:
            if self.dead_letters.flush(30) != 0:
                raise ConnectionError("dead letters not delivered within 30 s; the batch is not committed")
            self.dead_lettered += len(decoded.rejected)

        # 3. Each table's rows, tagged with the partition and offset of the message they came from.
        rows = np.asarray(decoded.rows, dtype=np.int64)
        batches = {}
        for spec, project in self.stream.tables:
            table, parents = project(decoded.table)
            source = rows if parents is None else rows[parents.to_numpy()]
            batches[spec] = TableBatch(
                table.append_column(PARTITION_COLUMN, pa.array(partitions[source])).append_column(
                    OFFSET_COLUMN, pa.array(offsets[source])
                )
            )

        # 4. One Iceberg commit per table with the next offsets; fenced on what this worker owns.
        results = self.writer.commit(batches, dict(self._next), owned=lambda p: p in self.owned)
        failpoint("ingest.before_kafka_commit")  # every table committed, Kafka's offsets not yet
        self._log(results, len(decoded.rejected))
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
