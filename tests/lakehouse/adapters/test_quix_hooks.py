"""The private names of Quix Streams that ``lakehouse/adapters/quix.py`` relies on are still there, with
the signatures it calls, and still wired the way it assumes: an upgrade of quixstreams fails here first,
server-free (the behaviour against the broker: tests/lakehouse/streaming/, tests/ingest/test_rebalance_pause.py,
tests/alerting/test_stopping.py)."""

from __future__ import annotations

import inspect
import tomllib
from pathlib import Path

import quixstreams
from quixstreams import Application
from quixstreams.internal_consumer import InternalConsumer

ROOT = Path(__file__).resolve().parents[3]


def parameters(function: object) -> list[str]:
    return list(inspect.signature(function).parameters)  # type: ignore[arg-type]


def test_quixstreams_is_the_pinned_version() -> None:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert f"quixstreams=={quixstreams.__version__}" in deps


def test_the_rebalance_callbacks_are_the_ones_the_consumer_is_given() -> None:
    for name in ("_on_assign", "_on_revoke", "_on_lost"):
        assert len(parameters(getattr(Application, name))) == 3, name  # self, the consumer, the partitions
    source = inspect.getsource(Application)
    for callback in ("on_assign=self._on_assign", "on_revoke=self._on_revoke", "on_lost=self._on_lost"):
        assert callback in source, callback


def test_the_signal_handlers_and_the_consumer_factory() -> None:
    assert parameters(Application._on_sigterm)[0] == "self"
    assert parameters(Application._on_sigint)[0] == "self"
    assert parameters(Application._get_internal_consumer) == ["self", "on_error", "extra_config_overrides"]
    assert "self._get_internal_consumer(" in inspect.getsource(Application.__init__)


def test_the_application_holds_what_the_seam_reads() -> None:
    app = Application(broker_address="127.0.0.1:1", consumer_group="hooks")  # connects to nothing yet
    assert "force" in parameters(app._processing_context.commit_checkpoint)
    assert "cached" in parameters(app._consumer.get_watermark_offsets)
    for field in ("broker_address", "consumer_group", "auto_offset_reset", "max_partition_buffer_size",
                  "consumer_extra_config"):  # fmt: skip
        assert hasattr(app._config, field), field


def test_the_internal_consumer_keeps_its_private_parts() -> None:
    assert "timeout" in parameters(InternalConsumer._poll_unbuffered)
    assert parameters(InternalConsumer.poll_row)[1:3] == ["timeout", "buffered"]
    assert parameters(InternalConsumer.trigger_backpressure)[1:] == ["offsets_to_seek", "resume_after"]
    init = inspect.getsource(InternalConsumer.__init__)
    assert "self._on_error" in init and "self._topics" in init
