"""Every page warns when the lake holds reports dated after now (``dashboard.ui.future_message``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dashboard.ui import FUTURE_TOLERANCE, future_message

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


def test_reports_after_now_are_warned_of_and_the_present_is_not() -> None:
    message = future_message(NOW + timedelta(days=2), NOW)
    assert message is not None and "2026-12-05 10:00" in message and "--reset" in message
    assert future_message(NOW, NOW) is None
    assert future_message(NOW + FUTURE_TOLERANCE, NOW) is None, "two clocks may disagree a little"
    assert future_message(None, NOW) is None, "an empty lake"
