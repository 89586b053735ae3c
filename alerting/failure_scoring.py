"""Live failure risk: each drone's telemetry scored by the newest trained model, a `maintenance` alert
when the risk crosses the model's threshold.

Runs in the rules worker on the reports topic's own partitions (reports are keyed by drone, so a
drone's state is in the store of its partition: no repartition). The features follow
``lakehouse.failure_model`` report by report (``DroneTelemetry``) in Quix's RocksDB state with its
changelog; a prediction is made when a drone's hour completes, as in Spark's training rows. The model
comes from the lake (``answers.maintenance_model``, exported as data: no JVM here), looked up again in
the background every few minutes, so a retrained model takes over without a restart. Before the first
model, and while the model in service is marked weak (too few failures behind its figures), features are
kept and nothing is scored. The alert id is the drone and the hour that crossed:
a replay re-creates the same alert.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict

from quixstreams.state import State

from lakehouse.catalog import load_catalog
from lakehouse.failure_model import HOUR_MS, DroneTelemetry, FailureModel
from lakehouse.schemas import Alert, AlertKind, DroneReport, Severity
from lakehouse.settings import Settings
from lakehouse.stopping import background
from lakehouse.tables import latest_model_card
from lakehouse.terminal import first_line, printable

logger = logging.getLogger("harmony.alerting")
OPEN_KEY = "hour"  # the drone's current hour (every report)
HISTORY_KEY = "history"  # its last 24 closed hours and segment (once an hour)
ABOVE_KEY = "above"  # was the drone's last prediction at or over the threshold (alert on the crossing)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
REFRESH_S = 300.0


class ModelSource:
    """The newest failure model in the lake, looked up on a background thread every ``refresh_s``.

    A lake that cannot be reached keeps the model already loaded (or none) and is asked again later."""

    def __init__(self, settings: Settings, refresh_s: float = REFRESH_S) -> None:
        self.settings = settings
        self.refresh_s = refresh_s
        self.model: FailureModel | None = None
        self._stop = threading.Event()
        self._loaded = threading.Event()
        # Should the refresh itself die (not a bad card or an absent lake: those are caught in ``_load``),
        # the worker stops loudly rather than scoring with a model nobody refreshes.
        self._thread = background(self._run, "failure-model-refresh")

    def _load(self) -> None:
        """Look the newest card up; a lake that cannot be read, or a card that does not validate, keeps
        the model already in service (the thread goes on: it must not die on what the lake holds)."""
        try:
            card = latest_model_card(load_catalog(self.settings), self.settings)
            model = FailureModel.model_validate_json(card.model_json) if card else None
        except Exception as exc:
            logger.warning(
                "failure model: cannot read the newest model (%s: %s); keeping v%s, asking again later",
                type(exc).__name__,
                printable(first_line(exc, 300)),
                self.model.version if self.model else "none",
            )
            return
        if model is not None and (self.model is None or model.version != self.model.version):
            logger.info(
                "failure model v%d in service (threshold %.2f%s)",
                model.version,
                model.threshold,
                "; weak: it raises no alerts" if model.weak else "",
            )
        self.model = model

    def _run(self) -> None:
        while True:
            self._load()
            self._loaded.set()
            if self._stop.wait(self.refresh_s):
                return

    def wait_loaded(self, timeout_s: float = 30.0) -> bool:
        """True once the lake has been asked at least once (tests, start-up)."""
        return self._loaded.wait(timeout_s)

    def close(self) -> None:
        self._stop.set()


class Reading(TypedDict):
    """What the failure model reads from one report: small, so Quix's copy for this branch is cheap."""

    drone_id: str
    zone: str
    event_ms: int
    battery: float
    temp: float
    signal: float
    event: str | None


def reading(report: DroneReport) -> Reading:
    h = report.health
    return Reading(
        drone_id=report.drone_id,
        zone=report.zone,
        # Exact epoch milliseconds (a float timestamp can land one millisecond short of an hour).
        event_ms=(report.event_time - EPOCH) // timedelta(milliseconds=1),
        battery=h.battery_pct,
        temp=h.motor_temp_c,
        signal=h.signal_dbm,
        event=report.event.value if report.event is not None else None,
    )


def severity(risk: float) -> Severity:
    if risk >= 0.9:
        return Severity.CRITICAL
    if risk >= 0.75:
        return Severity.HIGH
    return Severity.MEDIUM


def _keys(drone_id: str) -> tuple[str, str, str]:
    """The drone's three state keys (its hour, history and last crossing) in its partition's store."""
    return f"{OPEN_KEY}:{drone_id}", f"{HISTORY_KEY}:{drone_id}", f"{ABOVE_KEY}:{drone_id}"


class DroneHealthStep:
    """Per drone of a run of reports: update its features; at an hour's end, score and maybe alert.

    The run holds many drones of one partition (``lakehouse.streaming.runs``), so each drone's state
    lives in the partition's store under its own keys: read once per drone and run, updated report by
    report in memory, written back once (the history only when an hour closed)."""

    def __init__(self, models: ModelSource) -> None:
        self.models = models
        self.raised = 0

    def __call__(self, readings: list[Reading], state: State[str, Any]) -> list[Alert]:
        by_drone: dict[str, list[Reading]] = {}
        for r in readings:
            by_drone.setdefault(r["drone_id"], []).append(r)
        alerts: list[Alert] = []
        for drone_id, mine in by_drone.items():
            alerts += self._drone(drone_id, mine, state)
        return alerts

    def _drone(self, drone_id: str, readings: list[Reading], state: State[str, Any]) -> list[Alert]:
        open_key, history_key, above_key = _keys(drone_id)
        telemetry = DroneTelemetry(state.get(open_key), lambda: state.get(history_key))
        model = self.models.model
        above: bool | None = None  # the last prediction in this run, None before one
        alerts = []
        for r in readings:
            closed = telemetry.add(r["event_ms"], r["battery"], r["temp"], r["signal"], r["event"])
            if closed is None:
                continue
            state.set(history_key, telemetry.history)  # the next hour's close reads it back
            if model is None or model.weak:
                continue  # no model, or one whose figures are too thin to ground a drone on
            hour, features = closed
            risk = model.score(features)
            was_above = bool(state.get(above_key, False)) if above is None else above
            above = risk >= model.threshold
            if above and not was_above:
                alerts.append(self._alert(r, hour, risk, features, model))
        state.set(open_key, telemetry.open)
        if above is not None:
            state.set(above_key, above)
        self.raised += len(alerts)
        return alerts

    @staticmethod
    def _alert(r: Reading, hour: int, risk: float, features: dict[str, float], model: FailureModel) -> Alert:
        end = EPOCH + timedelta(milliseconds=(hour + 1) * HOUR_MS)
        return Alert(
            alert_id=f"maintenance-{r['drone_id']}-{hour}",
            kind=AlertKind.MAINTENANCE,
            severity=severity(risk),
            drone_id=r["drone_id"],
            zone=r["zone"],
            citizens=[],
            event_time=end,
            detected_at=datetime.now(UTC),
            reason=(
                f"{r['drone_id']}: failure risk {risk:.0%} within {model.horizon_h} h "
                f"(model v{model.version}): battery peak {features['battery_level']:.1f} % "
                f"(down {features['battery_fade']:.1f}), motor {features['temp_level']:.1f} °C, "
                f"signal dropouts {features['dropout_rate']:.0%}"
            ),
        )
