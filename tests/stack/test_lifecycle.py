"""`harmony stack up|down|status` against the real servers."""

from __future__ import annotations

import time
from pathlib import Path

from lakehouse.settings import Settings
from stack import manager
from stack.services.base import port_is_open


def test_up_twice_is_idempotent(stack: Settings) -> None:
    before = {s.name: s.pid for s in manager.status(stack)}
    t0 = time.monotonic()
    manager.up(stack)
    again = time.monotonic() - t0
    after = {s.name: s.pid for s in manager.status(stack)}
    assert before == after, "a second `up` must keep the running servers, not restart them"
    assert all(after.values())
    assert again < 30, f"a second `up` should only check health, took {again:.1f}s"


def test_status_reports_every_service_healthy(stack: Settings) -> None:
    rows = manager.status(stack)
    assert [r.name for r in rows] == ["postgres", "minio", "kafka", "trino", "toxiproxy"]
    assert all(r.healthy for r in rows), rows
    assert {r.address for r in rows} >= {stack.kafka.bootstrap_servers, f"127.0.0.1:{stack.trino.https_port}"}


def test_down_stops_every_process_then_up_restores(stack: Settings) -> None:
    pids = {s.name: s.pid for s in manager.status(stack)}
    stopped = manager.down(stack)
    assert sorted(stopped) == sorted(pids)
    for name, pid in pids.items():
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2], (
            name
        )
    for svc in manager.services(stack):
        for port in svc.ports:
            assert not port_is_open(svc.host, port), f"{svc.name} still listens on {port}"
    assert manager.down(stack) == [], "a second `down` has nothing left to stop"
    manager.up(stack)
    assert all(s.healthy for s in manager.status(stack))


def test_a_server_restarted_outside_the_stack_is_still_recognised(stack: Settings) -> None:
    """`pg_ctl restart` by hand gives PostgreSQL a new pid; the stack finds it from its data folder
    (postmaster.pid) instead of calling it down and its port taken by a stranger."""
    import subprocess

    from stack.services.postgres import Postgres, postgres_bindir

    pg = Postgres(stack)
    before = pg.running_pid()
    bindir = postgres_bindir()
    assert before is not None and bindir is not None
    out = subprocess.run(
        [
            str(bindir / "pg_ctl"),
            "restart",
            "-D",
            str(pg.data),
            "-m",
            "fast",
            "-w",
            "-l",
            str(pg.home / "pg_ctl.log"),
        ],
        user=pg.run_as(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    after = pg.running_pid()
    assert after is not None and after != before
    manager.up(stack)  # neither refuses the port nor starts a second server
    assert {s.name: s.pid for s in manager.status(stack)}["postgres"] == after
    assert all(s.healthy for s in manager.status(stack))
