"""A library's warning with a traceback is logged by ingest as one line naming the error."""

from __future__ import annotations

import logging
import sys

from ingest.cli import one_line


def test_a_warning_with_a_traceback_becomes_one_line() -> None:
    try:
        raise OSError("When deleting key 'x': AWS Error UNKNOWN (HTTP status 507)\nsecond line")
    except OSError:
        info = sys.exc_info()
    record = logging.LogRecord(
        "pyiceberg.x", logging.WARNING, __file__, 1, "Failed to delete: %s", ("s3://a",), info
    )
    assert one_line(record)
    text = logging.Formatter("%(message)s").format(record)
    assert (
        text
        == "Failed to delete: s3://a (OSError: When deleting key 'x': AWS Error UNKNOWN (HTTP status 507))"
    )
    assert "Traceback" not in text


def test_errors_keep_their_traceback() -> None:
    try:
        raise ValueError("bug")
    except ValueError:
        info = sys.exc_info()
    record = logging.LogRecord("harmony", logging.ERROR, __file__, 1, "crashed", None, info)
    assert one_line(record)
    assert "Traceback" in logging.Formatter("%(message)s").format(record)
