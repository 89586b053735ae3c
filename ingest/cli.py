"""`harmony ingest`: land a stream in the lake, exactly once; `harmony ingest status`: where it stands."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ingest.streams import STREAMS, Stream
from lakehouse.settings import IngestSettings, Settings, get_settings
from lakehouse.stopping import STOP

if TYPE_CHECKING:
    from ingest.app import IngestApp

app = typer.Typer(help="Land Kafka streams in Iceberg tables, exactly once (Quix Streams + pyiceberg).")
console = Console(stderr=True)

StreamOpt = Annotated[str, typer.Option("--stream", help="what to land: " + ", ".join(STREAMS))]


@app.callback(invoke_without_command=True)
def run(
    ctx: typer.Context,
    stream: StreamOpt = "reports",
    commit_interval: Annotated[float | None, typer.Option(help="seconds between Iceberg commits")] = None,
    max_rows: Annotated[int | None, typer.Option(help="flush a batch at this many messages")] = None,
    max_bytes: Annotated[int | None, typer.Option(help="flush a batch at this many bytes")] = None,
    count: Annotated[
        int | None, typer.Option(help="stop after the run reaching this many messages (tests, benchmarks)")
    ] = None,
    timeout: Annotated[float | None, typer.Option(help="stop after this many idle seconds")] = None,
) -> None:
    """Run one ingest worker; start more with the same command to scale out (one consumer group)."""
    if ctx.invoked_subcommand is not None:
        return
    if stream not in STREAMS:
        raise typer.BadParameter(f"unknown stream {stream!r}; choose from {', '.join(STREAMS)}")
    from ingest.writer import LostOffsetsError
    from lakehouse.streaming.topics import TopicMissing

    _log_in_one_line()
    settings = get_settings()
    STOP.install()  # a stop while waiting for a server at start is a clean exit (lakehouse.stopping)
    changed = {"commit_interval_s": commit_interval, "max_rows": max_rows, "max_bytes": max_bytes}
    options = settings.ingest.model_copy(update={k: v for k, v in changed.items() if v is not None})
    try:
        ingest = build_when_reachable(settings, STREAMS[stream], options)
    except (LostOffsetsError, TopicMissing) as exc:
        fail(stream, str(exc))
    say(
        stream,
        f"group {STREAMS[stream].consumer_group(options.consumer_group)}, "
        f"commit every {options.commit_interval_s}s",
    )
    tally = _land(settings, stream, options, ingest, count, timeout)
    say(
        stream,
        f"landed {tally.landed:,} rows in {tally.commits} commits, dead-lettered {tally.dead_lettered:,}",
    )


@dataclass(frozen=True)
class Tally:
    """What the worker's runs landed, summed over the consumers it started (one per broker outage)."""

    landed: int = 0
    commits: int = 0
    dead_lettered: int = 0

    def plus(self, ingest: IngestApp) -> Tally:
        sink = ingest.sink
        return Tally(
            self.landed + sink.landed_rows,
            self.commits + sink.commits,
            self.dead_lettered + sink.dead_lettered,
        )


def _land(
    settings: Settings,
    stream: str,
    options: IngestSettings,
    ingest: IngestApp,
    count: int | None,
    timeout: float | None,
) -> Tally:
    """Run the worker until it stops (a signal, ``count`` messages, ``timeout`` idle seconds). A broker gone
    between the lake's commit and Kafka's starts a new consumer once it is back; nothing else restarts."""
    from quixstreams.checkpointing.exceptions import CheckpointConsumerCommitError
    from quixstreams.sinks.base import SinkBackpressureError

    from ingest.writer import LostOffsetsError
    from lakehouse.streaming.topics import TopicMissing

    kwargs: dict[str, float | int] = {} if timeout is None else {"timeout": timeout}
    tally, backoff_s = Tally(), 1.0
    while not STOP.requested:
        try:
            ingest.app.stop_after = count  # counted in messages by the app (Quix would count runs)
            ingest.app.run(**kwargs)  # type: ignore[arg-type]
            ingest.sink.flush()
        except SinkBackpressureError:
            say(stream, "a server is away; the last batch stays on Kafka for the next run")
        except CheckpointConsumerCommitError as exc:
            # The broker went away between the lake's commit and Kafka's. The lake's offsets are the
            # truth (the next assignment starts from them), so nothing is lost or landed twice: start a
            # new consumer once the broker is back instead of exiting.
            tally = tally.plus(ingest)
            say(
                stream,
                f"the broker is away ({exc.args[0] if exc.args else exc}); the lake holds the batch, "
                f"Kafka's offsets were not committed; resuming in {backoff_s:.0f}s",
            )
            if STOP.back_off(backoff_s):
                return tally
            backoff_s = min(30.0, backoff_s * 2)
            try:
                ingest = build_when_reachable(settings, STREAMS[stream], options)
            except TopicMissing as missing:  # deleted while the worker ran
                fail(stream, str(missing))
            continue
        except LostOffsetsError as exc:
            fail(stream, str(exc))
        break
    return tally.plus(ingest)


def _log_in_one_line() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("pyiceberg").setLevel(logging.WARNING)
    for handler in logging.getLogger().handlers:
        handler.addFilter(one_line)


@app.command()
def status(stream: StreamOpt = "reports") -> None:
    """Print, per table and partition, the offset committed in the lake, the end of the topic and the lag."""
    from ingest.status import ingest_status
    from ingest.writer import LostOffsetsError
    from lakehouse.streaming.topics import TopicMissing

    if stream not in STREAMS:
        raise typer.BadParameter(f"unknown stream {stream!r}; choose from {', '.join(STREAMS)}")
    settings = get_settings()
    try:
        chosen = STREAMS[stream]
        rows = ingest_status(settings, chosen, chosen.consumer_group(settings.ingest.consumer_group))
    except (LostOffsetsError, TopicMissing, ConnectionError) as exc:
        fail(stream, str(exc))
    table = Table(title=escape(f"ingest [{stream}]"))
    for col in ("table", "partition", "lake offset", "group offset", "end", "lag"):
        table.add_column(col, justify="right" if col not in ("table",) else "left")
    for r in rows:
        table.add_row(
            r.table,
            str(r.partition),
            str(r.committed if r.committed is not None else "-"),
            str(r.group_committed if r.group_committed is not None else "-"),
            str(r.end),
            f"{r.lag:,}",
        )
    Console().print(table)
    if all(r.committed is None for r in rows):
        command = "harmony ingest" + ("" if stream == "reports" else f" --stream {stream}")
        filler = {"reports": "harmony simulate", "alerts": "harmony alert"}.get(stream)
        empty = (
            f" (the topic is empty: `{filler}` fills it)" if filler and all(r.end == 0 for r in rows) else ""
        )
        say(stream, f"nothing landed in the lake yet: run `{command}`{empty}")


def say(stream: str, message: str) -> None:
    """One line on stderr about this stream; the text is never read as markup, nor wrapped."""
    console.print(f"ingest[{stream}]: {message}", markup=False, highlight=False, soft_wrap=True)


def fail(stream: str, message: str) -> NoReturn:
    """The worker cannot start, in one line saying what to run first; exits 1."""
    console.print(
        f"[red]{escape(f'ingest[{stream}]')}: {escape(message)}[/]", highlight=False, soft_wrap=True
    )
    raise typer.Exit(1)


def build_when_reachable(settings: Settings, stream: Stream, options: IngestSettings) -> IngestApp:
    """Build the worker (tables ensured, offsets read), waiting with back-off while a server it needs is
    away: a worker started during an outage waits for it, as a running one does (found by the soak)."""
    from ingest.app import build
    from ingest.sink import TRANSIENT

    backoff_s = 1.0
    while True:
        try:
            return build(settings, stream, options)
        except TRANSIENT as exc:
            first = (str(exc).strip() or type(exc).__name__).splitlines()[0][:300]
            logging.getLogger("harmony.ingest").warning(
                "a server is unreachable or failing at start (%s: %s); retrying in %.0fs",
                type(exc).__name__, first, backoff_s,
            )  # fmt: skip
            if STOP.wait(backoff_s):  # asked to stop while waiting for a server: nothing consumed yet
                raise SystemExit(0) from None
            backoff_s = min(30.0, backoff_s * 2)


def one_line(record: logging.LogRecord) -> bool:
    """Libraries' warnings with a traceback (pyiceberg's "Failed to delete uncommitted manifest" while S3
    is away: the file stays an orphan for `harmony lake maintain`) as one line naming the error."""
    if record.exc_info and record.levelno < logging.ERROR and record.exc_info[1] is not None:
        exc = record.exc_info[1]
        first = (str(exc).strip() or type(exc).__name__).splitlines()[0][:300]
        record.msg = f"{record.getMessage()} ({type(exc).__name__}: {first})"
        record.args = None
        record.exc_info = None
        record.exc_text = None
    return True
