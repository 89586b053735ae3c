"""The Fleet health page as a person sees it, on the fleet lake (a trained model, the fleet scored):
the map, the model card against the baseline, the ranking with telemetry trends."""

from __future__ import annotations

from pathlib import Path

from lakehouse.catalog import load_catalog
from lakehouse.tables import latest_model_card
from testkit.browser import Browser, DashboardServer, page_done
from testkit.lakes import Lake

SHOTS = Path(__file__).parents[2] / ".harmony" / "screenshots"


def test_fleet_health_shows_the_risk_the_card_and_the_ranking(fleet_lake: Lake) -> None:
    card = latest_model_card(load_catalog(fleet_lake.settings), fleet_lake.settings)
    assert card is not None
    with DashboardServer(fleet_lake.env, fleet_lake.tmp) as server, Browser() as browser:
        page = browser.open(f"{server.url}/fleet?live=false")
        page_done(page, "[data-testid=stDataFrame] canvas, [data-testid=stDeckGlJsonChart]")
        page.wait_for_selector("[data-testid=stDeckGlJsonChart] canvas", timeout=30_000)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "fleet.png"), full_page=True)
        text = page.inner_text("[data-testid=stMain]")
        assert page.locator("[data-testid=stException]").count() == 0
        assert not browser.console_errors, browser.console_errors
        assert "Drones scored\n40" in text.replace("\n\n", "\n")
        assert f"model v{card.version}" in text and "Model card" in text  # the tables are canvas: not text
        assert f"{card.test_failures} failures" in text and "median lead time" in text
        assert f"{card.failures_warned} of them were warned before they came" in text
        assert "Failures expected in 24 h" in text and "Threshold: ground as many drones" in text
        assert card.assessment is not None and card.assessment in text.replace("\n", " ")
        assert page.locator("[data-testid=stDataFrame]").count() == 2, "the card's metrics and the ranking"
        outside = [
            u
            for u in browser.requests
            if not u.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:"))
        ]
        assert not outside, f"requests leaving the machine: {outside[:5]}"
