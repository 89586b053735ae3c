"""Status panels drawn on the server as one HTML element each: the table cards, bars of lag and reports
per minute, the answers' sources.

Why not Streamlit's own elements: a page paints in the browser, and in a profile of the Overview most of
its 1.8 s went to React, markdown and Vega drawing some forty small elements (a card is a container, a
markdown line, a metric and a caption). One sanitised HTML block per panel paints in milliseconds. Every
value is escaped here; ``st.html`` sanitises again and runs no script.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

from lakehouse.query.lake_state import TableState

COLOURS = {"green": "#21a366", "orange": "#e8a33d", "red": "#d64545"}
_CARD = "border:1px solid rgba(128,128,128,.35);border-radius:.5rem;padding:.6rem .8rem"
_MUTED = "opacity:.7;font-size:.85em"
_CELL = "padding:.2rem .4rem;overflow-wrap:anywhere"


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    if moment is None:
        return "never"
    s = max(0.0, ((now or datetime.now(UTC)) - moment).total_seconds())
    if s < 90:
        return f"{s:.0f} s ago"
    if s < 5400:
        return f"{s / 60:.0f} min ago"
    if s < 2 * 86400:
        return f"{s / 3600:.1f} h ago"
    return f"{s / 86400:.0f} days ago"


def freshness(age_s: float | None) -> tuple[str, str]:
    """(colour, label) of a table's last commit: green under a minute, amber under ten, red after."""
    if age_s is None:
        return "red", "no commit"
    if age_s < 60:
        return "green", "fresh"
    if age_s < 600:
        return "orange", "behind"
    return "red", "stale"


def cards(states: Sequence[TableState], now: datetime) -> str:
    """A grid of one card per table: name, freshness badge, rows, snapshots, files, last commit."""
    out = ["<div class='harmony-cards' style='display:grid;grid-template-columns:repeat(4,1fr);gap:.6rem'>"]
    for s in states:
        colour, label = freshness(s.age_s(now))
        out.append(
            f"<div style='{_CARD}'>"
            f"<div style='display:flex;justify-content:space-between;gap:.4rem'>"
            f"<b style='overflow-wrap:anywhere'>{escape(s.identifier)}</b>"
            f"<span style='background:{COLOURS[colour]};color:white;border-radius:1rem;padding:0 .5rem;"
            f"font-size:.8em;height:1.4em;white-space:nowrap'>{escape(label)}</span></div>"
            f"<div style='font-size:1.8em'>{s.rows:,}</div>"
            f"<div style='{_MUTED}'>rows · {s.snapshots} snapshots · {s.data_files} files · last commit "
            f"{escape(ago(s.committed_at, now))}</div></div>"
        )
    out.append("</div>")
    return "".join(out)


def bars(rows: Sequence[tuple[str, float]], unit: str, colour: str = "#4c78a8", height: int = 180) -> str:
    """Vertical bars, one per (label, value), with the value on hover; labels under the first, middle and
    last bars."""
    if not rows:
        return ""
    peak = max(v for _, v in rows)
    top = peak or 1.0
    n = len(rows)
    cols = []
    for label, value in rows:
        tip = escape(f"{label}: {value:,.0f} {unit}")
        cols.append(
            f"<div title='{tip}' style='flex:1;display:flex;flex-direction:column;justify-content:flex-end;"
            f"align-items:center;min-width:2px'>"
            f"<div style='width:80%;background:{colour};height:{max(value / top * 100, 0.5):.1f}%'></div>"
            "</div>"
        )
    marks = sorted({0, n // 2, n - 1})
    labels = "".join(
        f"<span style='position:absolute;left:{(i + 0.5) / n * 100:.1f}%;transform:translateX(-50%)'>"
        f"{escape(rows[i][0])}</span>"
        for i in marks
    )
    return (
        f"<div class='harmony-bars'><div style='{_MUTED}'>max {peak:,.0f} {escape(unit)}</div>"
        f"<div style='display:flex;gap:1px;height:{height}px;border-bottom:1px solid rgba(128,128,128,.5)'>"
        f"{''.join(cols)}</div>"
        f"<div style='position:relative;height:1.3em;{_MUTED}'>{labels}</div></div>"
    )


def stats(values: dict[str, int]) -> str:
    """A row of labelled counts (zero counts shown as 0, not left out)."""
    cells = "".join(
        f"<div style='{_CARD}'><div style='{_MUTED}'>{escape(label)}</div>"
        f"<div style='font-size:1.8em'>{n:,}</div></div>"
        for label, n in values.items()
    )
    return f"<div class='harmony-stats' style='display:flex;gap:.6rem;flex-wrap:wrap'>{cells}</div>"


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A small table of plain values."""
    th = "".join(f"<th style='text-align:left;padding:.2rem .4rem'>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(f"<td style='{_CELL}'>{escape('—' if v is None else str(v))}</td>" for v in row)
        + "</tr>"
        for row in rows
    )
    return (
        "<table class='harmony-table' style='border-collapse:collapse;width:100%;font-size:.85em'>"
        f"<tr>{th}</tr>{body}</table>"
    )
