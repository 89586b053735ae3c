"""The Harmony dashboard: ``harmony dashboard`` (or ``streamlit run dashboard/app.py``).

Reads the lake, the answer tables and the live alerts; imports no processor and recomputes no answer.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import access, ui

HERE = Path(__file__).parent

st.set_page_config(page_title="Harmony Lakehouse", layout="wide")  # no icon: a material one is fetched
role = ui.who_is_there()  # asks for a password when the server listens beyond loopback
PAGES = [
    ("overview.py", "Overview", ""),
    ("answers.py", "Answers", "answers"),
    ("alerts.py", "Live alerts", "alerts"),
    ("fleet.py", "Fleet health", "fleet"),
    ("explore.py", "Explore", "explore"),
]
page = st.navigation(
    [
        st.Page(HERE / "views" / file, title=title, url_path=path or None, default=not path)
        for file, title, path in PAGES
        if path in access.PAGES[role]
    ]
)
ui.future_warning()
page.run()
