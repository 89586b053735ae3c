"""Fleet health: every drone's failure risk on the city map, the ranking with its telemetry trend, and the
model card (how the model in service did against the naive battery rule on held-out weeks).

Reads ``answers.drone_risk`` (`harmony maintenance score`) and ``answers.maintenance_model``
(`harmony maintenance train`); recomputes nothing.
"""

from __future__ import annotations

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
c1, c2, c3 = st.columns(3)
c1.metric("Drones scored", len(risk))
c2.metric("At risk (ground them)", len(at_risk))
c3.metric("Highest risk", f"{risk['risk'].max():.0%}")


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
with right:
    st.subheader("Model card")
    if card_df is None or card_df.empty:
        st.info("No model card.")
    else:
        card = card_df.iloc[0]
        lead = card["lead_time_median_h"]
        st.markdown(
            f"**v{int(card['version'])}** · {ui.plain(card['algorithm'])} · trained "
            f"{pd.to_datetime(card['trained_at']):%Y-%m-%d %H:%M} UTC in {card['train_seconds']:.0f} s"
        )
        st.dataframe(
            pd.DataFrame(
                {
                    "": ["model", "baseline: battery rule"],
                    "PR-AUC": [card["pr_auc"], card["baseline_pr_auc"]],
                    "threshold": [
                        f"risk ≥ {card['threshold']:.2f}",
                        f"battery ≤ {card['baseline_threshold']:.0f} %",
                    ],
                    "precision": [card["precision"], card["baseline_precision"]],
                    "recall": [card["recall"], card["baseline_recall"]],
                }
            ),
            hide_index=True,
            column_config={
                c: st.column_config.NumberColumn(format="%.3f") for c in ("PR-AUC", "precision", "recall")
            },
        )
        st.markdown(
            f"Predicts a failure within **{int(card['horizon_h'])} h**. Held out: "
            f"{pd.to_datetime(card['holdout_start']):%Y-%m-%d %H:%M} → "
            f"{pd.to_datetime(card['data_end']):%Y-%m-%d %H:%M} "
            f"UTC ({int(card['test_rows']):,} drone-hours, {int(card['test_failures'])} failures, "
            + (
                f"{int(card['failures_warned'])} of the {int(card['failures_evaluated'])} whose "
                f"{int(card['horizon_h'])} h before lie in them warned"
                if pd.notna(card.get("failures_evaluated"))
                else f"{int(card['failures_warned'])} warned"
            )
            + (f", median lead time **{lead:.1f} h**" if pd.notna(lead) else "")
            + f"). Trained on {int(card['train_rows']):,} drone-hours from "
            f"{pd.to_datetime(card['data_start']):%Y-%m-%d} ({int(card['train_failures'])} failures)."
        )
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
        "hours_since_service": st.column_config.NumberColumn("h since service", format="%d"),
        "battery_trend": st.column_config.LineChartColumn("battery peak, 24 h"),
        "temp_trend": st.column_config.LineChartColumn("motor temp, 24 h"),
    },
)
ui.csv_download(table.drop(columns=["battery_trend", "temp_trend"]), "drone_risk")
ui.show_sql(SQL_RISK)
