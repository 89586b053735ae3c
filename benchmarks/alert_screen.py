"""Report produced → riot alert visible in the browser's live page, through the whole real pipeline.

    .venv/bin/python -m benchmarks.alert_screen [--riots 16 --rate 1000]

On a lane of its own (topics, alerting group, live alerts table): `harmony alert` (rules and delivery),
the simulator producing live in the background at ``--rate`` so the processors are busy as they would
be, `harmony dashboard` on that lane, and its live page open in headless Chromium with live refresh on.
One riot at a time, each in another zone: the time from producing its reports to its toast on the page.
"""

from __future__ import annotations

import argparse
import random
import signal
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson
from confluent_kafka import Producer

from benchmarks import results_file
from benchmarks.alerting import Lane
from lakehouse.city import CITY
from lakehouse.settings import get_settings
from testkit.browser import DONE_WHEN, Browser, DashboardServer, page_done, riot_reports
from testkit.commands import HARMONY, simulate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--riots",
        type=int,
        default=len(CITY.zones),
        help="at most one per zone: a second one joins the first",
    )
    ap.add_argument("--rate", type=float, default=500.0, help="background reports per second")
    args = ap.parse_args()
    settings = get_settings()
    lane = Lane(settings)
    seen_s: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        log = (Path(tmp) / "alert.log").open("wb")
        alerting = subprocess.Popen([HARMONY, "alert", "--quiet"], env=lane.env, stdout=log, stderr=log)
        background = subprocess.Popen(
            simulate("--rate", str(args.rate), "--riots-per-day", "0"),
            env=lane.env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            with DashboardServer(lane.env, Path(tmp)) as server, Browser() as browser:
                path, selector = DONE_WHEN["alerts"]
                page = browser.open(f"{server.url}/{path}")
                page_done(page, selector)
                time.sleep(10)  # the processors have joined their groups and read the backlog
                gap = random.Random(7)  # sends fall at any phase of the page's refresh, not in step with it
                producer = Producer(settings.kafka.client({"linger.ms": 0}))
                for i in range(args.riots):
                    zone = CITY.zones[i % len(CITY.zones)].name
                    toast = page.locator("[data-testid=stToast]", has_text=f"Riot in {zone}")
                    # The background stream has riots of its own: start from no toast for this zone, so
                    # the one awaited is the one raised by these reports.
                    toast.first.wait_for(state="detached", timeout=30_000)
                    sent = time.monotonic()
                    for report in riot_reports(zone):
                        producer.produce(
                            lane.reports,
                            key=report.drone_id.encode(),
                            value=orjson.dumps(report.model_dump(mode="json")),
                        )
                    producer.flush(10)
                    toast.first.wait_for(timeout=60_000)
                    seen_s.append(time.monotonic() - sent)
                    print(f"riot {i + 1}/{args.riots} in {zone}: on screen after {seen_s[-1]:.2f} s")
                    time.sleep(gap.uniform(1.0, 1.0 + 2 * settings.dashboard.refresh_s))
                page.close()
        finally:
            for proc in (background, alerting):
                proc.send_signal(signal.SIGTERM)
                proc.wait(60)
            lane.close()
    results_file.write(
        "alert_screen",
        {
            "riots": args.riots,
            "background_reports_per_s": args.rate,
            "refresh_s": settings.dashboard.refresh_s,
        },
        {
            "alert_to_screen_p50_s": statistics.median(seen_s),
            "alert_to_screen_p95_s": float(np.percentile(seen_s, 95)),
            "alert_to_screen_max_s": max(seen_s),
        },
    )


if __name__ == "__main__":
    main()
