"""No alert can stop a sink: what a target cannot take is dead-lettered and the next goes on; a delivery
thread that dies stops its process loudly; the webhook tells credentials from a refusal; headers and the
console carry stream text as text. Server-free but real: a local HTTP server, a subprocess that dies."""

from __future__ import annotations

import io
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from rich.console import Console

from alerting.sinks import ConsoleSink, WebhookSink, header_value
from lakehouse.codec import decode
from lakehouse.schemas import Alert
from lakehouse.stopping import EXIT_THREAD_DIED
from testkit.parking import Picky, alert, feed, wait_for


def test_an_alert_the_target_cannot_take_is_dead_lettered_and_the_rest_delivered(tmp_path: Path) -> None:
    sink = Picky(tmp_path / "spool.jsonl", poison={"a-17", "a-40"})
    feed(sink, 0, 50)  # one batch of 50 with two alerts at fault, there before the thread starts
    sink.setup()
    wait_for(lambda: sink.parked == 0)
    feed(sink, 50, 40)  # and the alerts after them still go
    wait_for(lambda: sink.parked == 0)
    sink.close()
    assert sink.received == [f"a-{i}" for i in range(90) if i not in (17, 40)], "in order, all but two"
    assert [decode(Alert, b).alert_id for b, _ in sink.dead] == ["a-17", "a-40"]
    for _, reason in sink.dead:
        assert reason.startswith("target cannot take this alert: ValueError: A string literal cannot")
    assert sink.refused == 2
    assert sink.calls[0] == 50 and max(sink.calls[1:]) < 50, "the failing batch was split"


DIES = """
import logging, sys, time
from pathlib import Path
logging.basicConfig(level=logging.INFO)
from testkit.parking import Picky, feed
sink = Picky(Path(sys.argv[1]), poison={"a-3"})
def broken(letters):
    raise RuntimeError("the dead-letter topic refused it")
sink.dead_letter = broken
sink.setup()
feed(sink, 0, 5)
time.sleep(30)
print("still alive: the thread died silently")
"""


def test_a_delivery_thread_that_dies_stops_the_process_with_one_clear_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", DIES, str(tmp_path / "spool.jsonl")],
        capture_output=True, text=True, timeout=60, cwd=Path(__file__).parents[2],
    )  # fmt: skip
    assert done.returncode == EXIT_THREAD_DIED, done.stderr
    assert "still alive" not in done.stdout
    died = [line for line in done.stderr.splitlines() if "died" in line]
    assert len(died) == 1, done.stderr
    assert "thread target-delivery died (RuntimeError: the dead-letter topic refused it)" in died[0]


class Hook(BaseHTTPRequestHandler):
    status = 200
    body = b""
    seen: ClassVar[list[tuple[str, str]]] = []

    def do_POST(self) -> None:
        length = int(self.headers["content-length"])
        payload = self.rfile.read(length)
        Hook.seen.append((self.headers["idempotency-key"], decode(Alert, payload).alert_id))
        self.send_response(Hook.status)
        self.end_headers()
        self.wfile.write(Hook.body)

    def log_message(self, *_args: object) -> None:
        return None


@pytest.fixture
def hook() -> Iterator[str]:
    Hook.status, Hook.body, Hook.seen = 200, b"", []
    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()


def _webhook(url: str, spool: Path) -> tuple[WebhookSink, list[tuple[bytes, str]]]:
    dead: list[tuple[bytes, str]] = []
    sink = WebhookSink(url, spool, 2.0, 1, 0.05, 1_000, dead_letter=dead.extend)
    return sink, dead


def test_webhook_401_parks_and_retries_until_the_credentials_are_fixed(hook: str, tmp_path: Path) -> None:
    Hook.status = 401
    sink, dead = _webhook(hook, tmp_path / "spool.jsonl")
    sink.setup()
    feed(sink, 0, 3)
    wait_for(lambda: len(Hook.seen) >= 3)  # retried, and still parked
    assert sink.parked == 3 and not dead and sink.down_since is not None
    Hook.status = 200  # the token is renewed
    wait_for(lambda: sink.parked == 0)
    sink.close()
    assert [a for _, a in Hook.seen[-3:]] == ["a-0", "a-1", "a-2"] and not dead


@pytest.mark.parametrize("status", [404, 413, 422])
def test_webhook_refusal_is_dead_lettered_with_the_status_and_body(
    status: int, hook: str, tmp_path: Path
) -> None:
    Hook.status, Hook.body = status, b"no such hook \x1b[2J" + b"x" * 5000
    sink, dead = _webhook(hook, tmp_path / "spool.jsonl")
    sink.setup()
    feed(sink, 0, 2)
    wait_for(lambda: len(dead) == 2)
    Hook.status = 200
    feed(sink, 2, 1)
    wait_for(lambda: sink.parked == 0)
    sink.close()
    assert [decode(Alert, b).alert_id for b, _ in dead] == ["a-0", "a-1"]
    reason = dead[0][1]
    assert f"webhook cannot take this alert: AlertRefused: HTTP {status}: no such hook \\x1b[2J" in reason
    assert len(reason) < 1000, "the start of the body, not all of it"
    assert Hook.seen[-1][1] == "a-2", "the next alert went on"


def test_header_values_are_one_line_of_ascii_whatever_the_alert_holds() -> None:
    for raw in ["a:high", "zone\r\nX-Injected: 1", "é😀\x00\u202e", "%41"]:
        value = header_value(raw)
        assert value.isascii() and value.isprintable() and "\r" not in value and "\n" not in value
        from urllib.parse import unquote

        assert unquote(value) == raw, "nothing lost: the receiver can decode it"


def test_console_prints_stream_text_as_text() -> None:
    out = io.StringIO()
    sink = ConsoleSink(Console(file=out, force_terminal=True, width=200))
    hostile = alert(1).model_copy(
        update={"zone": "[bold]z\x1b]0;owned\x07", "reason": "r\x1b[2J\u202e :smile:"}
    )
    sink.add(hostile, None, 0, None, "alerts", 0, 0)
    text = out.getvalue()
    assert "\x1b]0;" not in text and "\x1b[2J" not in text and "\u202e" not in text
    assert "[bold]z\\x1b]0;owned\\x07" in text and "r\\x1b[2J\\u202e :smile:" in text
