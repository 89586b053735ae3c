"""The Harmony dashboard: ``harmony dashboard`` (or ``streamlit run dashboard/app.py``).

Reads the lake, the answer tables and the live alerts; imports no processor and recomputes no answer.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import ui

HERE = Path(__file__).parent

st.set_page_config(page_title="Harmony Lakehouse", layout="wide")  # no icon: a material one is fetched
page = st.navigation(
    [
        st.Page(HERE / "views" / "overview.py", title="Overview", default=True),
        st.Page(HERE / "views" / "answers.py", title="Answers", url_path="answers"),
        st.Page(HERE / "views" / "alerts.py", title="Live alerts", url_path="alerts"),
        st.Page(HERE / "views" / "fleet.py", title="Fleet health", url_path="fleet"),
        st.Page(HERE / "views" / "explore.py", title="Explore", url_path="explore"),
    ]
)
ui.future_warning()
page.run()
