"""What a demo run simulates (``harmony.demo.plan_window``): up to now, on from the lake, never later."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from harmony.demo import MIN_GAP, LakeInTheFuture, plan_window

NOW = datetime(2026, 12, 3, 9, 41, 27, tzinfo=UTC)


def test_an_empty_lake_gets_the_last_days_up_to_now() -> None:
    w = plan_window(None, NOW, 7)
    assert w is not None and w.after is None
    assert w.end == NOW.replace(second=0) and w.start == w.end - timedelta(days=7) and w.days == 7


def test_a_second_run_goes_on_from_the_newest_event_up_to_now() -> None:
    newest = NOW - timedelta(hours=5, seconds=13)
    w = plan_window(newest, NOW, 7)
    assert w is not None and w.after == newest
    assert newest < w.start <= newest + timedelta(minutes=1) and w.end == NOW.replace(second=0)


def test_a_lake_idle_for_longer_than_the_days_gets_the_last_days_only() -> None:
    w = plan_window(NOW - timedelta(days=30), NOW, 7)
    assert w is not None and w.start == NOW.replace(second=0) - timedelta(days=7)


def test_a_lake_at_now_needs_nothing_and_one_in_the_future_is_refused() -> None:
    assert plan_window(NOW - MIN_GAP / 2, NOW, 7) is None
    with pytest.raises(LakeInTheFuture, match="--reset"):
        plan_window(NOW + timedelta(days=2), NOW, 7)


def test_no_window_ends_after_now() -> None:
    for newest in (None, NOW - timedelta(days=1), NOW - timedelta(minutes=11)):
        w = plan_window(newest, NOW, 7)
        assert w is not None and w.end <= NOW and w.start < w.end
