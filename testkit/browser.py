"""Test helpers: the dashboard served as a user runs it, Debian's Chromium driven by Playwright, and the
reports of a riot to watch it reach the page (the browser tests and ``benchmarks/``)."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlparse

import httpx
from playwright.sync_api import Page, Playwright, sync_playwright

from lakehouse.city import CITY
from lakehouse.schemas import Citizen, DroneHealth, DroneReport, Position
from stack import debian
from testkit.commands import HARMONY

# Debian's wrapper script works but prints a harmless shell error; the real binary is beside it.
CHROMIUM = Path("/usr/lib/chromium/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
# Per page: its path and what it shows once done (the browser tests and benchmarks/dashboard.py).
DONE_WHEN = {
    "overview": ("", ".harmony-cards"),
    "answers": ("answers", "[data-testid=stVegaLiteChart], .vega-embed"),
    "alerts": ("alerts", "[data-testid=stDataFrame]"),
    "explore": ("explore", "[data-testid=stTextArea]"),
}
DONE = """(selector) => {
  const app = document.querySelector('[data-testid=stApp]');
  return !!app && app.getAttribute('data-test-connection-state') === 'CONNECTED'
    && app.getAttribute('data-test-script-state') === 'notRunning'
    && !document.querySelector('[data-testid=stSkeleton]')
    && !!document.querySelector(selector);
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class DashboardServer:
    """``harmony dashboard`` on a free port with ``env``; ready when Streamlit's health check answers."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env, self.log_path = env, logs / f"dashboard-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> DashboardServer:
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [HARMONY, "dashboard", "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the dashboard exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/_stcore/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"the dashboard did not answer in 60 s: {self.log_path.read_text()[-2000:]}")

    def memory_mb(self) -> float:
        assert self.proc is not None
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
        return kb / 1024

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(15)


def ensure_chromium() -> Path:
    """Debian's Chromium, installed from Debian's archive when missing (Playwright never downloads one)."""
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        debian.apt_install("chromium")
    if not CHROMIUM.exists():
        raise RuntimeError(f"Chromium is installed but {CHROMIUM} is missing")
    return CHROMIUM


class Browser:
    """Headless Chromium; records console errors and every URL the pages request."""

    def __init__(self) -> None:
        self.console_errors: list[str] = []
        self.requests: list[str] = []
        self._pw: Playwright | None = None
        self._manager: Any = None

    def __enter__(self) -> Browser:
        executable = ensure_chromium()
        self._manager = sync_playwright()
        self._pw = self._manager.__enter__()
        self.browser = self._pw.chromium.launch(
            executable_path=str(executable), headless=True, args=CHROMIUM_FLAGS
        )
        self.context = self.browser.new_context(viewport={"width": 1400, "height": 1800})
        return self

    def open(self, url: str) -> Page:
        page = self.context.new_page()
        page.on(
            "console",
            lambda m: (
                self.console_errors.append(m.text)
                if m.type == "error" and not _base_path_probe(m.location.get("url", ""))
                else None
            ),
        )
        page.on("pageerror", lambda e: self.console_errors.append(str(e)))
        page.on("request", lambda r: self.requests.append(r.url))
        page.on(
            "response",
            lambda r: (
                self.console_errors.append(f"HTTP {r.status} {r.url}")
                if r.status >= 400 and not _base_path_probe(r.url)
                else None
            ),
        )
        page.goto(url)
        return page

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.browser.close()
        self._manager.__exit__(exc_type, exc, tb)


def _base_path_probe(url: str) -> bool:
    """Opened on a page's own path (``/answers``), Streamlit's client first asks ``/answers/_stcore/...`` in
    case the app is served under that prefix, gets 404, then uses ``/_stcore/...``: expected, not an error."""
    path = urlparse(url).path
    return "/_stcore/" in path and not path.startswith("/_stcore/")


def page_done(page: Page, selector: str, timeout_ms: int = 60_000) -> float:
    """Wait until the page is done (connected, script idle, no skeleton, ``selector`` present); seconds."""
    t0 = time.monotonic()
    page.wait_for_function(DONE, arg=selector, timeout=timeout_ms)
    return time.monotonic() - t0


def riot_reports(zone: str, n: int = 14) -> list[DroneReport]:
    """``n`` reports from one zone, now, each with one distinct citizen far below the harmony threshold."""
    z = next(z for z in CITY.zones if z.name == zone)
    token = uuid.uuid4().hex[:6]
    now = datetime.now(UTC)
    return [
        DroneReport(
            report_id=f"browser-{token}-{i}",
            drone_id=f"drone-browser-{i % 3}",
            event_time=now,
            position=Position(lat=z.centre[0], lon=z.centre[1], altitude_m=80.0),
            zone=zone,
            health=DroneHealth(battery_pct=80.0, motor_temp_c=40.0, signal_dbm=-60.0, firmware="1.0"),
            citizens=[Citizen(citizen_id=f"cit-{token}-{i}", name=f"Citizen {i}", harmony_score=3.0)],
            words=["riot"],
        )
        for i in range(n)
    ]


# Where the browser tests leave their screenshots, to be looked at; what no page or log may show.
SHOTS = Path(__file__).parents[1] / ".harmony" / "screenshots"
NOISE = re.compile(r"Traceback|Warning|WARNING", re.IGNORECASE)
