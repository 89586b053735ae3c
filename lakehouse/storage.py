"""The warehouse's object store (MinIO) as a pyarrow filesystem, configured from the settings."""

from __future__ import annotations

from pyarrow import fs

from lakehouse.settings import Settings


def s3_filesystem(settings: Settings, **options: object) -> fs.S3FileSystem:
    s3 = settings.s3
    return fs.S3FileSystem(
        access_key=s3.access_key.get_secret_value(),
        secret_key=s3.secret_key.get_secret_value(),
        endpoint_override=s3.endpoint,
        region=s3.region,
        scheme="http",
        **options,
    )
