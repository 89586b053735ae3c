"""MinIO, the S3 server holding the warehouse, built from the Go module proxy.

With several drives (``HARMONY_S3__DRIVES``, four in the cluster topology) the server erasure-codes every
object across them (EC:2 for four): a drive wiped or lost loses nothing, writes go on, and MinIO heals
the fresh drive by itself.
"""

from __future__ import annotations

from pathlib import Path

import httpx
from pyarrow import fs

from lakehouse import versions
from lakehouse.storage import s3_filesystem
from stack import downloads
from stack.services.base import Service


class MinIO(Service):
    name = "minio"

    @property
    def host(self) -> str:
        return self.settings.s3.host

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.settings.s3.port, self.settings.s3.console_port)

    @property
    def binary(self) -> Path:
        return self.cache / "minio" / versions.MINIO / "minio"

    def install(self) -> None:
        downloads.cached(
            self.binary.parent,
            lambda tmp: downloads.go_install(self.cache, versions.MINIO_MODULE, versions.MINIO, tmp),
        )

    def drives(self) -> list[Path]:
        """The data folders: ``data`` for one drive, else ``drives/d1`` ... ``drives/dN``."""
        n = self.settings.s3.drives
        if n == 1:
            return [self.home / "data"]
        return [self.home / "drives" / f"d{i}" for i in range(1, n + 1)]

    def prepare(self) -> None:
        for drive in self.drives():
            drive.mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        s3 = self.settings.s3
        n = s3.drives
        # MinIO's own ellipsis names the erasure set's drives: drives/d{1...4}.
        where = str(self.home / "data") if n == 1 else f"{self.home / 'drives'}/d{{1...{n}}}"
        return [
            str(self.binary),
            "server",
            where,
            "--address",
            f"{s3.host}:{s3.port}",
            "--console-address",
            f"{s3.host}:{s3.console_port}",
            "--quiet",
        ]

    def env(self) -> dict[str, str]:
        s3 = self.settings.s3
        env = super().env()
        env.update(
            MINIO_ROOT_USER=s3.access_key.get_secret_value(),
            MINIO_ROOT_PASSWORD=s3.secret_key.get_secret_value(),
            MINIO_REGION=s3.region,
            MINIO_BROWSER="on",
            MINIO_UPDATE="off",
        )
        if s3.drives > 1:
            # These machines carry /.dockerenv: MinIO then takes several local folders for drives it must
            # wait for ("drive not found") unless told this is a test deployment (checked: RECIPES.md).
            env["MINIO_CI_CD"] = "on"
        return env

    def _fs(self) -> fs.S3FileSystem:
        return s3_filesystem(self.settings, connect_timeout=2, request_timeout=5, allow_bucket_creation=True)

    def check_health(self) -> None:
        # Listing the root of an S3 filesystem is ListBuckets: a signed request that checks the keys too.
        self._fs().get_file_info(fs.FileSelector("/", recursive=False))
        if self.settings.s3.drives > 1:
            # 200 only while the erasure set has its write quorum (MinIO's cluster health check).
            s3 = self.settings.s3
            httpx.get(f"{s3.endpoint}/minio/health/cluster", timeout=2).raise_for_status()

    @property
    def address(self) -> str:
        n = self.settings.s3.drives
        return super().address + (f" ({n} drives)" if n > 1 else "")

    def provision(self) -> None:
        s3fs = self._fs()
        if s3fs.get_file_info(self.settings.s3.bucket).type == fs.FileType.NotFound:
            s3fs.create_dir(self.settings.s3.bucket)
        self._provision_reader()

    def _provision_reader(self) -> None:
        """The read-only identity (the dashboard's): a MinIO user whose one policy lists and gets the
        bucket's objects, and nothing else (no put, no delete, no other bucket, no admin call)."""
        from minio import MinioAdmin
        from minio.credentials.providers import StaticProvider

        s3 = self.settings.s3
        admin = MinioAdmin(
            endpoint=f"{s3.host}:{s3.port}",
            credentials=StaticProvider(s3.access_key.get_secret_value(), s3.secret_key.get_secret_value()),
            region=s3.region,
            secure=False,
        )
        admin.policy_add(READER_POLICY, policy=reader_policy(s3.bucket))
        reader = s3.reader_access_key.get_secret_value()
        admin.user_add(reader, s3.reader_secret_key.get_secret_value())  # sets the secret if it exists
        admin.policy_set(READER_POLICY, user=reader)


READER_POLICY = "harmony-read-only"


def reader_policy(bucket: str) -> dict[str, object]:
    """An S3 policy that reads ``bucket`` (list, locate, get) and grants nothing more."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetBucketLocation", "s3:ListBucket"],
                "Resource": [f"arn:aws:s3:::{bucket}"],
            },
            {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [f"arn:aws:s3:::{bucket}/*"]},
        ],
    }
