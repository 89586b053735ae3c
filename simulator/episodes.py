"""Riot episodes injected into the stream, and the ground-truth file that records them (and drone events).

Episodes start as a Poisson process whose rate follows the same daily and weekly rhythm as background
unrest. Tests and benchmarks compare what alerting and Spark find against the ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson

from lakehouse.city import City
from simulator.config import SimulatorConfig
from simulator.world import Fleet, Population


@dataclass(frozen=True)
class RiotEpisode:
    episode_id: str
    zone: str
    zone_index: int
    start: datetime
    end: datetime
    rioters: tuple[int, ...]  # citizen indices

    def to_json(self, population: Population) -> bytes:
        return orjson.dumps(
            {
                "kind": "riot",
                "episode_id": self.episode_id,
                "zone": self.zone,
                "start": self.start,
                "end": self.end,
                "rioters": [population.ids[i] for i in self.rioters],
            },
            option=orjson.OPT_UTC_Z,
        )


def plan_day(
    day: datetime,
    config: SimulatorConfig,
    city: City,
    fleet: Fleet,
    population: Population,
) -> list[RiotEpisode]:
    """The episodes starting on one UTC day; a pure function of the seed and the day."""
    day = day.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    rng = np.random.default_rng([config.seed, 0xE91, day.toordinal()])
    weekend = day.weekday() >= 5
    hourly = np.array([config.unrest(h, weekend) for h in range(24)])
    count = rng.poisson(config.riots_per_day * hourly.mean())
    zones = fleet.patrolled_zones
    episodes = []
    for n in range(count):
        hour = int(rng.choice(24, p=hourly / hourly.sum()))
        start = day + timedelta(hours=hour, seconds=float(rng.uniform(0, 3600)))
        start = start.replace(microsecond=start.microsecond // 1000 * 1000)
        minutes = float(rng.uniform(*config.riot_minutes))
        zone = int(rng.choice(zones))
        residents = population.residents[zone]
        size = min(int(rng.integers(config.riot_size[0], config.riot_size[1] + 1)), len(residents))
        rioters = tuple(int(i) for i in rng.choice(residents, size=size, replace=False))
        episodes.append(
            RiotEpisode(
                episode_id=f"riot-{day:%Y%m%d}-{n:02d}",
                zone=city.zones[zone].name,
                zone_index=zone,
                start=start,
                end=start + timedelta(milliseconds=round(minutes * 60_000)),
                rioters=rioters,
            )
        )
    return sorted(episodes, key=lambda e: e.start)


class GroundTruth:
    """Appends each planned episode once to a JSON-lines file."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._seen: set[str] = set()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"")

    @property
    def episode_ids(self) -> set[str]:
        return set(self._seen)

    def record(self, episodes: list[RiotEpisode], population: Population) -> None:
        new = [e for e in episodes if e.episode_id not in self._seen]
        self._seen.update(e.episode_id for e in new)
        if self.path is not None and new:
            with self.path.open("ab") as fh:
                for e in new:
                    fh.write(e.to_json(population) + b"\n")

    def record_drone_events(self, events: list[tuple[str, float, str, str]]) -> None:
        """Drone failures and maintenances: (drone id, when it happened in epoch seconds, kind, cause)."""
        if self.path is None:
            return
        with self.path.open("ab") as fh:
            for drone_id, at, kind, cause in events:
                when = datetime.fromtimestamp(at, UTC)
                record = {"kind": kind, "drone_id": drone_id, "time": when, "cause": cause}
                fh.write(orjson.dumps(record, option=orjson.OPT_UTC_Z) + b"\n")


def read_ground_truth(path: Path, kind: str | None = None) -> list[dict[str, object]]:
    """The file's records: riot episodes (``kind="riot"``), drone ``failure``s and ``maintenance``s."""
    rows = [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    return [r for r in rows if kind is None or r.get("kind") == kind]
