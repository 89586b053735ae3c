"""`harmony stack up|down|status|logs`: the real servers as local processes."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lakehouse.private_files import write_private
from lakehouse.settings import get_settings
from stack import manager
from stack.credentials import ensure_env_file
from stack.services import ALL, ServiceError
from stack.services.kafka import format_arguments, new_cluster_id, server_properties
from stack.services.trino import TLS_KEYSTORE, Layout, etc_files, tls_files

app = typer.Typer(help="Install, start, check and stop the local stack (Kafka, MinIO, PostgreSQL, Trino).")
console = Console(stderr=True)


@app.command()
def up(
    cluster: Annotated[
        bool | None,
        typer.Option(
            "--cluster/--single",
            help="the replicated topology (3 brokers, erasure-coded MinIO, Trino and Spark workers) or the "
            "single-node one; kept in .env as HARMONY_TOPOLOGY for every later command",
        ),
    ] = None,
) -> None:
    """Start every service (installing it on first use) and wait until all are healthy."""
    added = ensure_env_file()
    if added:
        console.print(f"[yellow]wrote local credentials to .env:[/] {', '.join(added)}")
        get_settings.cache_clear()
    if cluster is not None:
        _choose_topology("cluster" if cluster else "single")
    settings = get_settings()
    other = manager.other_topology_running(settings)
    if other:
        console.print(
            f"[red]stack up failed:[/] this state folder runs the other topology ({', '.join(other)}): "
            "run `harmony stack down` first"
        )
        raise typer.Exit(1)
    try:
        timings = manager.up(settings, report=lambda msg: console.print(f"  {msg}"))
    except ServiceError as exc:  # manager.up turns download failures into ServiceError too
        console.print(f"[red]stack up failed:[/] {escape(str(exc))}")
        raise typer.Exit(1) from exc
    console.print(f"[green]stack healthy[/] in {timings['total_s']:.1f}s")


def _choose_topology(topology: str) -> None:
    """Record the topology in .env (the processes started later read it there) and in this process."""
    from stack.credentials import set_env_value

    if set_env_value("HARMONY_TOPOLOGY", topology):
        console.print(f"[yellow]HARMONY_TOPOLOGY={topology}[/] written to .env")
    os.environ["HARMONY_TOPOLOGY"] = topology
    get_settings.cache_clear()


@app.command()
def down() -> None:
    """Stop the services this stack started (by their pid files); leaves everything else alone."""
    stopped = manager.down(get_settings(), report=lambda msg: console.print(f"  {msg}"))
    console.print(f"stopped: {', '.join(stopped) or 'nothing was running'}")


@app.command()
def status() -> None:
    """Print each service, its address, pid and health; exit 1 if any is down."""
    table = Table(title="Harmony stack")
    for col in ("service", "address", "pid", "health", "log"):
        table.add_column(col)
    rows = manager.status(get_settings())
    for row in rows:
        health = (
            "[green]healthy[/]" if row.healthy else ("[yellow]unhealthy[/]" if row.pid else "[red]down[/]")
        )
        table.add_row(row.name, row.address, str(row.pid or "-"), health, row.log)
    Console().print(table)
    if not all(r.healthy for r in rows):
        raise typer.Exit(1)


@app.command()
def logs(
    service: str = typer.Argument(..., help="a node of `harmony stack status`: kafka, trino, kafka-2, ..."),
    lines: int = typer.Option(50, "--lines", "-n"),
    follow: bool = typer.Option(False, "--follow", "-f"),
) -> None:
    """Show the end of a service's log file."""
    nodes = manager.services(get_settings())
    match = [n for n in nodes if n.name == service]
    if not match:
        console.print(
            f"[red]unknown service {escape(repr(service))}[/]; "
            f"choose one of {', '.join(n.name for n in nodes)}"
        )
        raise typer.Exit(2)
    log = match[0].log_file
    if not log.exists():
        console.print(f"{escape(service)}: no log yet at {escape(str(log))}")
        raise typer.Exit(1)
    cmd = ["tail", f"-n{lines}", *(["-f"] if follow else []), str(log)]
    sys.exit(subprocess.call(cmd))


@app.command()
def ping(
    services: Annotated[list[str], typer.Argument(help="one or more of: " + ", ".join(c.name for c in ALL))],
) -> None:
    """Exit 0 when each named server answers a real request, wherever it runs (a container's health
    check: a processor is healthy when it can reach what it needs)."""
    by_name = {c.name: c for c in ALL}
    unknown = [s for s in services if s not in by_name]
    if unknown:
        console.print(
            f"[red]unknown service {escape(', '.join(unknown))}[/]; choose from {', '.join(by_name)}"
        )
        raise typer.Exit(2)
    settings = get_settings()
    failed = False
    for name in services:
        svc = by_name[name](settings)
        try:
            svc.check_health()
            console.print(f"{name}: answers on {svc.address}")
        except Exception as exc:
            failed = True
            why = escape(f"{type(exc).__name__}: {str(exc)[:200]}")
            console.print(f"[red]{name}: no answer on {svc.address}[/] ({why})")
    if failed:
        raise typer.Exit(1)


@app.command()
def provision() -> None:
    """Create topics, bucket and catalog on servers already running elsewhere (compose, a cluster)."""
    try:
        manager.provision(get_settings(), report=lambda msg: console.print(f"  {msg}"))
    except ServiceError as exc:
        console.print(f"[red]provision failed:[/] {escape(str(exc))}")
        raise typer.Exit(1) from exc


@app.command("trino-etc")
def trino_etc(
    out: Annotated[Path, typer.Argument(help="folder to write Trino's etc/ into")],
    etc: Annotated[Path, typer.Option(help="where the files will be in the server's machine")] = Path(
        "/etc/trino"
    ),
    data: Annotated[Path, typer.Option(help="the server's data folder")] = Path("/data/trino"),
    bind: Annotated[str | None, typer.Option(help="address it listens on (default: the settings')")] = None,
    owner: Annotated[int | None, typer.Option(help="uid to own the files (the server's user)")] = None,
    host: Annotated[list[str] | None, typer.Option(help="another name clients reach Trino by")] = None,
) -> None:
    """Render Trino's whole etc/ from the settings (used by compose.yaml): node, JVM, server, password
    file, access rules, session limits, resource groups, catalogs and a TLS keystore; every file 0600.
    The certificate clients verify Trino by goes to the settings' HARMONY_TRINO__CERTIFICATE."""
    settings = get_settings()
    layout = Layout(etc=etc, data=data, bind=bind or settings.trino.host)
    keystore, certificate = tls_files(settings, host or [])
    files = {**etc_files(settings, layout), TLS_KEYSTORE: keystore}
    for name, content in files.items():
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        write_private(target, content)
        if owner is not None:
            os.chown(target, owner, -1)
        console.print(f"wrote {escape(str(target))}")
    settings.trino_certificate.parent.mkdir(parents=True, exist_ok=True)
    settings.trino_certificate.write_bytes(certificate)
    console.print(f"wrote {escape(str(settings.trino_certificate))} (the certificate clients verify)")


@app.command("kafka-config")
def kafka_config(
    out: Annotated[Path, typer.Argument(help="folder to write the broker's configuration into")],
    data: Annotated[Path, typer.Option(help="the broker's data folder")] = Path("/var/lib/kafka/data"),
    owner: Annotated[int | None, typer.Option(help="uid to own the files (the server's user)")] = None,
    node: Annotated[int, typer.Option(min=1, help="the broker's node id (1 to HARMONY_KAFKA__BROKERS)")] = 1,
) -> None:
    """Render the broker's server.properties, its SCRAM users for the storage format (format.args, an
    argument file for kafka-storage.sh) and a cluster id, from the settings (used by compose.yaml and
    k8s); every file 0600. A cluster id already there is kept: the storage was formatted with it."""
    settings = get_settings()
    cluster_id = out / "cluster.id"
    files = {
        "server.properties": "\n".join(server_properties(settings, data, node)).encode(),
        "format.args": "\n".join(format_arguments(settings)).encode(),
        "cluster.id": cluster_id.read_bytes() if cluster_id.exists() else new_cluster_id().encode(),
    }
    out.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        target = out / name
        write_private(target, content)
        if owner is not None:
            os.chown(target, owner, -1)
        console.print(f"wrote {escape(str(target))}")


@app.command()
def spark(
    workers: Annotated[int, typer.Option(min=1, help="standalone workers to start")] = 2,
) -> None:
    """Run a Spark standalone master and workers (from the pyspark installation) until Ctrl-C; jobs use
    `--master spark://…` as printed."""
    import signal
    import threading

    from stack.spark_cluster import SparkClusterError, SparkStandalone

    settings = get_settings()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with SparkStandalone(settings, workers) as cluster:
            sp = settings.spark
            console.print(
                f"[green]Spark standalone[/] at {cluster.url}: {workers} workers × {sp.worker_cores} core, "
                f"{sp.worker_memory}; web UI http://{sp.host}:{sp.master_webui_port}; Ctrl-C stops it"
            )
            with contextlib.suppress(KeyboardInterrupt):
                stop.wait()
    except SparkClusterError as exc:
        console.print(f"[red]spark failed:[/] {escape(str(exc))}")
        raise typer.Exit(1) from exc
    console.print("Spark standalone stopped")


images = typer.Typer(help="Container images of the project, built locally with podman (no registry needed).")


@images.command("build")
def images_build() -> None:
    """Build the Debian base image (once per recipe) and the project image every component runs from."""
    from stack.debian import PackageError
    from stack.images import ImageError, build

    try:
        built = build(get_settings(), report=lambda msg: console.print(f"  {msg}"))
    except (ImageError, PackageError) as exc:
        console.print(f"[red]images build failed:[/] {escape(str(exc))}")
        raise typer.Exit(1) from exc
    console.print(f"[green]{built.image}[/] on {built.base}: {built.size_mb:,.0f} MB")
