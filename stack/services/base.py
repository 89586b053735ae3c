"""A local server process the stack installs, starts, health-checks and stops.

Each implementation says how to install itself into the download cache, how to prepare its state folder,
which command runs it and how to tell it is healthy. The base class owns the process lifecycle: one pid
file per service, a log file, a start that is a no-op when the service already runs, and a stop that only
ever signals a process whose command line names this stack's state folder.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import socket
import subprocess
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

from lakehouse.private_files import open_private, private_dir
from lakehouse.settings import Settings


class ServiceError(RuntimeError):
    """A one-line, actionable failure of one service."""

    def __init__(self, service: str, problem: str, log: Path | None = None, hint: str = "") -> None:
        self.service = service
        parts = [f"{service}: {problem}"]
        if log is not None:
            parts.append(f"log: {log}")
        if hint:
            parts.append(hint)
        super().__init__(" | ".join(parts))


def port_is_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def owned_by(pid_file: Path, state: Path) -> bool:
    """The pid file names a live process started from the state folder ``state``."""
    try:
        pid = int(pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (OSError, ValueError):
        return False
    return _alive(pid) and str(state) in cmdline


def tail(path: Path, lines: int = 15) -> str:
    if not path.exists():
        return ""
    text = path.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:])


class Service(ABC):
    """One server of the local stack."""

    name: str  # the node's: a class's own, or one per instance where a server runs as several nodes
    stop_signal: ClassVar[signal.Signals] = signal.SIGTERM
    start_timeout_s: ClassVar[float] = 90.0

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.state_path / self.name
        self.cache = settings.cache_path

    # ---- what each service defines -------------------------------------------------------------
    @property
    @abstractmethod
    def host(self) -> str: ...

    @property
    @abstractmethod
    def ports(self) -> tuple[int, ...]:
        """Every port the service listens on; the first is its main address."""

    @abstractmethod
    def install(self) -> None:
        """Download or build the server into the cache; a no-op when already cached."""

    @abstractmethod
    def prepare(self) -> None:
        """Write configuration and initialise the data folder; idempotent."""

    @abstractmethod
    def command(self) -> list[str]: ...

    @abstractmethod
    def check_health(self) -> None:
        """Raise if the server does not answer a real request."""

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    def run_as(self) -> str | None:
        """The user to run the server as (PostgreSQL refuses root)."""
        return None

    def provision(self) -> None:  # noqa: B027 - optional hook: most services need nothing created
        """Create what the platform needs on a healthy server (topics, buckets, databases)."""

    # ---- lifecycle -------------------------------------------------------------------------------
    @property
    def address(self) -> str:
        return f"{self.host}:{self.ports[0]}"

    @property
    def pid_file(self) -> Path:
        return self.settings.state_path / "run" / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.settings.state_path / "logs" / f"{self.name}.log"

    @property
    def marker(self) -> str:
        """A string in the server's command line that only this stack's instance has."""
        return str(self.settings.state_path)

    def _owns(self, pid: int) -> bool:
        """True when ``pid`` is alive and was started from this stack's state folder."""
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return False
        return _alive(pid) and self.marker in cmdline

    def running_pid(self) -> int | None:
        """This stack's server process: the pid it recorded, or else one found from the server's own
        folder (restarted outside the stack, e.g. by ``pg_ctl restart``), which is then recorded."""
        try:
            pid: int | None = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            pid = None
        if pid is not None and self._owns(pid):
            return pid
        found = self.find_own_process()
        if found is not None and self._owns(found):
            self.pid_file.parent.mkdir(parents=True, exist_ok=True)
            self.pid_file.write_text(f"{found}\n")
            return found
        return None

    def find_own_process(self) -> int | None:
        """A running server started from this service's folder, whoever started it: a process whose
        command line names that folder and runs the same program as ``command()``."""
        home = f"{self.home}{os.sep}"  # kafka-1's folder, never kafka-10's or a single broker's
        try:
            program = Path(self.command()[0]).name
        except (ServiceError, OSError):  # not installed yet: nothing of ours can be running
            return None
        for cmdline_file in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                args = cmdline_file.read_bytes().split(b"\0")
            except OSError:
                continue
            text = b" ".join(args).decode(errors="replace")
            if args and Path(args[0].decode(errors="replace")).name == program and home in text:
                return int(cmdline_file.parent.name)
        return None

    def healthy(self) -> bool:
        try:
            self.check_health()
        except Exception:
            return False
        return True

    def start(self) -> None:
        """Start the server unless this stack already runs it."""
        if self.running_pid() is not None:
            return
        for port in self.ports:
            if port_is_open(self.host, port):
                raise ServiceError(
                    self.name,
                    f"port {port} on {self.host} is taken by a process this stack did not start",
                    hint="stop that process or choose another port "
                    f"(HARMONY_{self.name.split('-')[0].upper()}__PORT)",
                )
        private_dir(self.log_file.parent)  # servers log queries, keys' names and, in errors, data
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        user = self.run_as()
        with open_private(self.log_file, append=True) as log:
            proc = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env(),
                cwd=self.home,
                start_new_session=True,
                user=user,
                preexec_fn=self._raise_limits,
            )
        self.pid_file.write_text(f"{proc.pid}\n")

    @staticmethod
    def _raise_limits() -> None:
        # Runs in the child after a possible switch of user: nothing here may import (the interpreter's
        # files may be unreadable to that user), hence `resource` is imported at module level.
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = 65536 if hard == resource.RLIM_INFINITY else min(65536, hard)
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

    def wait_healthy(self, timeout_s: float | None = None) -> float:
        """Poll the health check until it passes; fail fast with the log tail if the process died."""
        deadline = time.monotonic() + (timeout_s or self.start_timeout_s)
        started = time.monotonic()
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            if self.running_pid() is None:
                raise ServiceError(
                    self.name,
                    "the server exited during start-up: "
                    + (tail(self.log_file, 3).replace("\n", " ")[-400:]),
                    log=self.log_file,
                    hint="read the log, fix the cause, then run `harmony stack up` again",
                )
            try:
                self.check_health()
                return time.monotonic() - started
            except Exception as exc:
                last_error = f"{type(exc).__name__}: {exc}"[:300]
            time.sleep(0.5)
        raise ServiceError(
            self.name,
            f"not healthy after {timeout_s or self.start_timeout_s:.0f}s ({last_error})",
            log=self.log_file,
            hint="see the log; `harmony stack down` then `harmony stack up` retries",
        )

    def wait_healthy_remote(self, timeout_s: float = 180.0) -> None:
        """Wait for a server this stack does not run (e.g. a container) to pass its health check."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self.check_health()
                return
            except Exception as exc:
                if time.monotonic() > deadline:
                    raise ServiceError(self.name, f"not healthy at {self.address}: {exc}") from exc
            time.sleep(1)

    def stop(self, timeout_s: float = 30.0) -> bool:
        """Stop the server if this stack runs it; returns whether something was stopped."""
        pid = self.running_pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, self.stop_signal)
        # Wait on the pid itself, not on _owns: an exiting process loses its command line before it is gone.
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.2)
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            deadline = time.monotonic() + 30
            while _alive(pid):
                if time.monotonic() > deadline:  # stuck in the kernel (D state): say so, do not hang
                    raise ServiceError(self.name, f"pid {pid} survived SIGKILL for 30 s", self.log_file)
                time.sleep(0.1)
        self.pid_file.unlink(missing_ok=True)
        return True
