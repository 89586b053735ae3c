"""Failures of a service are one actionable line: which service, what happened, where the log is."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from lakehouse.settings import Settings
from stack import downloads, manager
from stack.services import Kafka, ServiceError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def other_stack(settings: Settings, tmp_path: Path) -> Settings:
    """Same installs, a separate state folder and free ports: a second, independent stack."""
    kafka = settings.kafka.model_copy(
        update={"port": free_port(), "controller_port": free_port(), "proxied_port": free_port()}
    )
    return settings.model_copy(update={"state_dir": tmp_path / "state", "kafka": kafka})


def test_taken_port_names_service_and_what_to_do(stack: Settings, tmp_path: Path) -> None:
    other = other_stack(stack, tmp_path)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", other.kafka.port))
        squatter.listen()
        svc = Kafka(other)
        svc.prepare()
        with pytest.raises(ServiceError) as err:
            svc.start()
    msg = str(err.value)
    assert msg.startswith("kafka: port ") and "taken" in msg and "HARMONY_KAFKA__PORT" in msg
    assert "\n" not in msg


def test_server_dying_at_start_reports_its_log(stack: Settings, tmp_path: Path) -> None:
    other = other_stack(stack, tmp_path)
    svc = Kafka(other)
    svc.prepare()
    # Unformatted KRaft storage: the real broker refuses to start.
    for meta in (svc.home / "data").glob("**/meta.properties"):
        meta.unlink()
    svc.start()
    try:
        with pytest.raises(ServiceError) as err:
            svc.wait_healthy(timeout_s=60)
    finally:
        svc.stop()
    msg = str(err.value)
    assert msg.startswith("kafka: the server exited during start-up")
    assert str(svc.log_file) in msg and svc.log_file.exists()
    assert "meta.properties" in svc.log_file.read_text()
    assert svc.running_pid() is None


def test_failed_download_names_the_artifact(stack: Settings, tmp_path: Path) -> None:
    with pytest.raises(downloads.DownloadError, match=re.escape("io.harmony.nothing:nowhere:0.0.1")):
        downloads.maven_artifact(stack.cache_path, "io.harmony.nothing:nowhere:0.0.1", tmp_path)


def test_status_of_a_stack_that_never_started(stack: Settings, tmp_path: Path) -> None:
    rows = manager.status(other_stack(stack, tmp_path))
    assert rows and all(r.pid is None and not r.healthy for r in rows)
    assert manager.down(other_stack(stack, tmp_path)) == [], "down must not touch another stack's servers"
    assert all(r.healthy for r in manager.status(stack))


def test_markup_in_what_a_user_types_is_printed_as_text() -> None:
    """`harmony stack logs '[/x]'` once crashed rich's markup parser; it is a plain unknown service."""
    import subprocess

    from testkit.commands import HARMONY

    out = subprocess.run([HARMONY, "stack", "logs", "[/x]"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out.stderr
    assert "unknown service '[/x]'" in out.stdout + out.stderr
    assert "Traceback" not in out.stderr
