"""`harmony lake maintain` beside ingest: a procedure whose commit meets a concurrent one is started again.

The raw tables switch Iceberg's own commit retries off (ingest must decide itself), and Spark's procedures
obey that, so ``spark.maintenance._call`` does the retrying. Server-free: the session is replaced by one
that fails the way Iceberg's procedures fail (the fresh-clone CI run met a CommitFailedException from
``expire_snapshots`` while ingest committed)."""

from __future__ import annotations

from typing import Any

import pytest
from pyspark.sql import Row

from spark import maintenance

CONFLICT = (
    "org.apache.iceberg.exceptions.CommitFailedException: Cannot commit t.reports: metadata location "
    "s3://warehouse/t/reports/metadata/00026.metadata.json has changed"
)


class Session:
    """Answers ``sql`` with the given outcomes in turn (an exception is raised)."""

    def __init__(self, *outcomes: Any) -> None:
        self.outcomes = list(outcomes)
        self.calls = 0

    def sql(self, _statement: str) -> Session:
        self.calls += 1
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        self.row = outcome
        return self

    def first(self) -> Any:
        return self.row


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("time.sleep", lambda _s: None)


def test_a_conflict_is_tried_again_on_the_new_state() -> None:
    session: Any = Session(RuntimeError(CONFLICT), RuntimeError("ValidationException: gone"), Row(ok=1))
    assert maintenance._call(session, "CALL x", "t.reports", "snapshot expiry") == Row(ok=1)
    assert session.calls == 3


def test_any_other_failure_is_raised_at_once() -> None:
    session: Any = Session(RuntimeError("AnalysisException: no such procedure"), Row(ok=1))
    with pytest.raises(RuntimeError, match="AnalysisException"):
        maintenance._call(session, "CALL x", "t.reports", "compaction")
    assert session.calls == 1


def test_after_every_try_conflicts_it_is_left_for_the_next_run(caplog: pytest.LogCaptureFixture) -> None:
    session: Any = Session(*[RuntimeError(CONFLICT)] * maintenance.ATTEMPTS)
    assert maintenance._call(session, "CALL x", "t.reports", "snapshot expiry") is None
    assert session.calls == maintenance.ATTEMPTS
    assert "snapshot expiry left for the next run" in caplog.text
