"""Fleet health: every drone's failure risk on the city map, the ranking with its telemetry trend, and the
model card (how the model in service did against the naive battery rule on held-out days, with 90 %
intervals, and whether its figures are too thin to trust: a weak model says so, in words).

Reads ``answers.drone_risk`` (`harmony maintenance score`) and ``answers.maintenance_model``
(`harmony maintenance train`); recomputes nothing.
"""

from __future__ import annotations

import orjson
import pandas as pd
import pydeck as pdk
import streamlit as st

from dashboard import ui
from lakehouse.city import CITY
from lakehouse.query.engines import QUERY_ERRORS
from lakehouse.tables import DRONE_RISK, MAINTENANCE_MODEL

settings = ui.settings()
st.title("Fleet health")
RISK = DRONE_RISK.identifier(settings)
MODEL = MAINTENANCE_MODEL.identifier(settings)
SQL_RISK = (
    "SELECT drone_id, zone, lat, lon, as_of, risk, at_risk, model_version, battery_level, battery_fade,\n"
    "       temp_level, dropout_rate, hours_since_service, battery_trend, temp_trend\n"
    f"FROM {RISK}\nORDER BY risk DESC, drone_id"
)
SQL_MODEL = f"SELECT * FROM {MODEL}\nORDER BY version DESC\nLIMIT 1"  # noqa: S608 (names from settings)


def read(statement: str, missing: str) -> tuple[pd.DataFrame | None, str | None]:
    try:
        df, engine, fallback, _seconds = ui.cached_query(statement)
    except QUERY_ERRORS as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "not exist" in first.lower() or "not found" in first.lower():
            st.info(missing)
        else:
            st.error(f"Could not read: {ui.plain(first)}")
        return None, None
    if fallback:
        st.caption(f"{ui.plain(fallback)}: answered by embedded DuckDB")
    return df, engine


risk, engine = read(
    SQL_RISK, "No fleet scores yet: run `harmony maintenance train`, then `harmony maintenance score`."
)
card_df, _ = read(SQL_MODEL, "No model yet: run `harmony maintenance train` once the lake holds a few weeks.")
if risk is None or risk.empty:
    st.stop()

as_of = pd.to_datetime(risk["as_of"]).max()
at_risk = risk[risk["at_risk"]]
st.caption(
    f"Scored with model v{int(risk['model_version'].max())} · latest hour {as_of:%Y-%m-%d %H:%M} UTC · "
    f"answered by **{engine}**"
)
card = card_df.iloc[0] if card_df is not None and not card_df.empty else None
weak = card is not None and pd.notna(card.get("weak")) and bool(card.get("weak"))  # null: an older card
if card is not None and weak:
    st.warning(ui.plain(card["assessment"]))
c1, c2, c3, c4 = st.columns(4)
c1.metric("Drones scored", len(risk))
c2.metric("At risk (ground them)", len(at_risk))
# Calibrated risks: their sum is the number of drones the model expects to fail within its horizon.
c3.metric("Failures expected in 24 h", f"{risk['risk'].sum():.1f}")
c4.metric("Highest risk", f"{risk['risk'].max():.0%}")


def colour(r: float) -> list[int]:
    """Green (0) → amber → red (1)."""
    return [int(255 * min(1.0, 2 * r)), int(200 * min(1.0, 2 * (1 - r))), 60, 230]


left, right = st.columns([1, 1])
with left:
    st.subheader("Where they fly")
    points = [
        {
            "drone": str(r.drone_id),
            "zone": str(r.zone),
            "risk": f"{r.risk:.0%}",
            "lon": float(r.lon),
            "lat": float(r.lat),
            "fill": colour(float(r.risk)),
            "radius": 140 + 360 * float(r.risk),
        }
        for r in risk.itertuples()
        if pd.notna(r.lat) and pd.notna(r.lon)
    ]
    grid = [{"polygon": ui.zone_polygon(z)} for z in CITY.zones]
    st.pydeck_chart(
        pdk.Deck(
            layers=[
                pdk.Layer(
                    "PolygonLayer",
                    grid,
                    get_polygon="polygon",
                    get_fill_color=[245, 245, 245, 120],
                    get_line_color=[150, 150, 150],
                    line_width_min_pixels=1,
                ),
                pdk.Layer(
                    "ScatterplotLayer",
                    points,
                    id="drones",
                    get_position=["lon", "lat"],
                    get_fill_color="fill",
                    get_radius="radius",
                    get_line_color=[40, 40, 40],
                    line_width_min_pixels=1,
                    stroked=True,
                    pickable=True,
                ),
            ],
            initial_view_state=ui.city_view(),
            map_provider=None,  # no base map: nothing fetched from outside the machine
            tooltip={"text": "{drone} in {zone}\nrisk {risk}"},
        ),
        height=380,
    )


def with_interval(name: str, value: float, intervals: dict[str, list[float]], digits: int = 3) -> str:
    low_high = intervals.get(name)
    shown = f"{value:.{digits}f}"
    return shown if not low_high else f"{shown} ({low_high[0]:.{digits}f}–{low_high[1]:.{digits}f})"


with right:
    st.subheader("Model card")
    if card is None:
        st.info("No model card.")
    else:
        intervals = orjson.loads(card["intervals"]) if pd.notna(card.get("intervals")) else {}
        lead = card["lead_time_median_h"]
        st.markdown(
            f"**v{int(card['version'])}** · {ui.plain(card['algorithm'])} · trained "
            f"{pd.to_datetime(card['trained_at']):%Y-%m-%d %H:%M} UTC in {card['train_seconds']:.0f} s"
        )
        st.dataframe(
            pd.DataFrame(
                {
                    "": ["model", "baseline: battery rule"],
                    "PR-AUC": [
                        with_interval("pr_auc", card["pr_auc"], intervals),
                        with_interval("baseline_pr_auc", card["baseline_pr_auc"], intervals),
                    ],
                    "threshold": [
                        f"risk ≥ {card['threshold']:.2f}",
                        f"battery ≤ {card['baseline_threshold']:.0f} %",
                    ],
                    "precision": [
                        with_interval("precision", card["precision"], intervals, 2),
                        with_interval("baseline_precision", card["baseline_precision"], intervals, 2),
                    ],
                    "recall": [
                        with_interval("recall", card["recall"], intervals, 2),
                        with_interval("baseline_recall", card["baseline_recall"], intervals, 2),
                    ],
                }
            ),
            hide_index=True,
        )
        failures = int(card["test_failures"])
        warned = (
            f"{int(card['failures_warned'])} of them were warned before they came"
            + (f" (median lead time **{lead:.1f} h**)" if pd.notna(lead) else "")
            if failures
            else "none to warn of"
        )
        expected = ""
        if pd.notna(card.get("expected_positives")) and card["observed_positives"]:
            ratio = card["expected_positives"] / card["observed_positives"]
            expected = (
                f" The model expected {card['expected_positives']:,.0f} failing drone-hours there; "
                f"{int(card['observed_positives']):,} came (ratio "
                f"{with_interval('calibration_ratio', ratio, intervals, 2)})."
            )
        st.markdown(
            f"Predicts a failure within **{int(card['horizon_h'])} h**. Held out: "
            f"{pd.to_datetime(card['holdout_start']):%Y-%m-%d %H:%M} → "
            f"{pd.to_datetime(card['data_end']):%Y-%m-%d %H:%M} UTC: "
            f"{int(card['test_rows']):,} drone-hours, {failures} failures; {warned}.{expected} "
            f"Trained on {int(card['train_rows']):,} drone-hours from "
            f"{pd.to_datetime(card['data_start']):%Y-%m-%d} ({int(card['train_failures'])} failures)."
        )
        if pd.notna(card.get("operating_point")):
            st.caption(f"Threshold: {ui.plain(card['operating_point'])}.")
        if pd.notna(card.get("assessment")) and not weak:
            st.caption(ui.plain(card["assessment"]))
        st.caption(
            f"Pipeline saved at {ui.plain(card['model_path'])}; "
            f"trained on raw snapshots {ui.plain(card['source_snapshots'])}"
        )

st.subheader("Ranking")
table = risk[
    ["drone_id", "zone", "risk", "at_risk", "battery_level", "battery_fade", "temp_level", "dropout_rate",
     "hours_since_service", "battery_trend", "temp_trend"]
].copy()  # fmt: skip
table["battery_trend"] = table["battery_trend"].map(lambda v: [float(x) for x in v] if v is not None else [])
table["temp_trend"] = table["temp_trend"].map(lambda v: [float(x) for x in v] if v is not None else [])
st.dataframe(
    table,
    hide_index=True,
    height=420,
    column_config={
        "drone_id": "drone",
        "risk": st.column_config.ProgressColumn("risk", min_value=0.0, max_value=1.0, format="percent"),
        "at_risk": st.column_config.CheckboxColumn("ground"),
        "battery_level": st.column_config.NumberColumn("battery peak %", format="%.1f"),
        "battery_fade": st.column_config.NumberColumn("fade", format="%.1f"),
        "temp_level": st.column_config.NumberColumn("motor °C", format="%.1f"),
        "dropout_rate": st.column_config.NumberColumn("dropouts", format="percent"),
        # Null (blank) until the drone's first failure or maintenance is seen: unknown, not "since the data".
        "hours_since_service": st.column_config.NumberColumn("h since service", format="%d"),
        "battery_trend": st.column_config.LineChartColumn("battery peak, 24 h"),
        "temp_trend": st.column_config.LineChartColumn("motor temp, 24 h"),
    },
)
ui.csv_download(table.drop(columns=["battery_trend", "temp_trend"]), "drone_risk")
ui.show_sql(SQL_RISK)
