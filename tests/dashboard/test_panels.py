"""The server-drawn HTML panels: every value from the lake or the stream is escaped, and the bars scale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dashboard import panels
from lakehouse.query.lake_state import TableState

HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>'\""


def state(identifier: str, rows: int, age_s: float | None) -> TableState:
    now = datetime.now(UTC)
    return TableState(
        identifier=identifier,
        snapshot_id=1 if age_s is not None else None,
        committed_at=now - timedelta(seconds=age_s) if age_s is not None else None,
        rows=rows,
        data_files=2,
        snapshots=3,
        offsets={},
        source_snapshots={},
    )


def test_cards_escape_names_and_show_freshness() -> None:
    now = datetime.now(UTC)
    html = panels.cards([state(HOSTILE, 1234567, 10), state("raw.alerts", 0, None)], now)
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;" in html
    assert "1,234,567" in html and "fresh" in html and "no commit" in html


def test_bars_scale_to_the_largest_and_escape_labels() -> None:
    html = panels.bars([(HOSTILE, 10.0), ("b", 40.0)], "reports")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "height:25.0%" in html and "height:100.0%" in html
    assert "max 40 reports" in html
    assert panels.bars([], "reports") == ""
    assert "max 0 reports" in panels.bars([("p0", 0.0)], "reports")


def test_table_escapes_every_cell() -> None:
    html = panels.table(["a", HOSTILE], [(HOSTILE, None)])
    assert "<script>" not in html and html.count("&lt;script&gt;") == 2
    assert "—" in html


def test_freshness_and_ago_wording() -> None:
    assert panels.freshness(5) == ("green", "fresh")
    assert panels.freshness(120) == ("orange", "behind")
    assert panels.freshness(3600)[0] == "red"
    now = datetime.now(UTC)
    assert panels.ago(now - timedelta(seconds=30), now) == "30 s ago"
    assert panels.ago(None) == "never"


def test_stats_show_every_kind_escaped() -> None:
    html = panels.stats({"riot": 0, HOSTILE: 1200})
    assert "riot" in html and ">0<" in html and "1,200" in html
    assert "<script>" not in html
