"""Stream data on a terminal or in a log line: as text, never as the terminal's instructions.

A citizen's name, a zone or a SQL result may hold ESC (``\\x1b]0;...`` retitles a terminal, ``\\x1b[2J``
clears it), CR (overwrites a line), other controls or bidi overrides (reorder what is shown). The
contract refuses them in new messages (``schemas.NOT_TEXT``), but a terminal also shows what older data,
the lake or an engine hands back: every such character is shown as its escape instead.
"""

from __future__ import annotations

from lakehouse.schemas import NOT_TEXT_RE


def _escape(c: str) -> str:
    code = ord(c)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object) -> str:
    """``text`` (any value, as ``str``) with every control, line separator and bidi control escaped."""
    s = text if isinstance(text, str) else str(text)
    return NOT_TEXT_RE.sub(lambda m: _escape(m.group()), s) if NOT_TEXT_RE.search(s) else s


def first_line(exc: BaseException, limit: int | None = None) -> str:
    """An exception's message in one line (its first, cut to ``limit``), or its type's name when it has
    none: what a log line or a dead letter says about it."""
    return (str(exc).strip() or type(exc).__name__).splitlines()[0][:limit]
