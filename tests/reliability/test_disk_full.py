"""MinIO's disk fills up under a running worker, then space is freed.

The lane gets its own MinIO (the stack's build, another port) whose data folder is a small tmpfs, so the
machine's disk is never filled. A filler file takes the free space: MinIO refuses every upload (its minimum
free-space reserve), the worker keeps its batch in Kafka and waits; the filler is deleted and the lake
ends exactly the topic.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lakehouse.catalog import load_catalog
from lakehouse.tables import purge_namespace
from stack.services.minio import MinIO
from testkit.faults import PRODUCED, RATE, finish
from testkit.ingest_lane import Lane

TMPFS_MB = 128
SMALL_S3_PORT, SMALL_CONSOLE_PORT = 9010, 9011


@pytest.fixture()
def small_disk_lane(lane: Lane, tmp_path: Path) -> Iterator[Lane]:
    """The lane, with the warehouse on a MinIO whose disk is a 128 MB tmpfs."""
    s3 = lane.settings.s3.model_copy(update={"port": SMALL_S3_PORT, "console_port": SMALL_CONSOLE_PORT})
    settings = lane.settings.model_copy(update={"s3": s3, "state_dir": tmp_path / "state"})
    minio = MinIO(settings)
    data = minio.home / "data"
    data.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_MB}m", "tmpfs", str(data)], check=True)
    try:
        minio.install()
        minio.prepare()
        minio.start()
        minio.wait_healthy(60)
        minio.provision()
        yield dataclasses.replace(lane, settings=settings)
        with contextlib.suppress(Exception):  # its files go with the tmpfs; only the catalog rows matter
            purge_namespace(load_catalog(settings), lane.namespace)
    finally:
        minio.stop()
        subprocess.run(["umount", "--lazy", str(data)], check=False)


def fill(folder: Path) -> Path:
    """A file taking every free byte of ``folder``'s filesystem."""
    filler = folder / "filler"
    free = shutil.disk_usage(folder).free
    with filler.open("wb") as out:
        chunk = b"\0" * (1 << 20)
        with contextlib.suppress(OSError):  # ENOSPC: full
            for _ in range(free // len(chunk) + 1):
                out.write(chunk)
            out.flush()
    return filler


def test_minio_disk_full_then_space_freed(small_disk_lane: Lane) -> None:
    lane = small_disk_lane
    env = {"HARMONY_S3__PORT": str(SMALL_S3_PORT)}
    worker = lane.worker("w", env=env)
    sim = lane.simulate("--count", str(PRODUCED), "--rate", RATE, "--seed", "43")
    time.sleep(4)
    data = MinIO(lane.settings).home / "data"
    filler = fill(data)
    assert shutil.disk_usage(data).free < 1 << 20, "the disk is full"
    time.sleep(12)
    assert worker.poll() is None, f"the worker exited on a full disk:\n{lane.log('w')[-3000:]}"
    assert "a server is unreachable or failing" in lane.log("w"), (
        "uploads were refused while the disk was full"
    )
    filler.unlink()
    assert sim.wait(120) == 0
    finish(lane, "w", worker)
