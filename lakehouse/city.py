"""The city the fleet patrols: a bounding box cut into named districts (zones).

Shared by the simulator (which zone a drone is in) and the analytics (each zone's centre for a map),
so it lives in the contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property


@dataclass(frozen=True)
class Zone:
    name: str
    row: int
    col: int
    lat_min: float
    lat_max: float
    lon_min: float
    lon_max: float

    @property
    def centre(self) -> tuple[float, float]:
        return ((self.lat_min + self.lat_max) / 2, (self.lon_min + self.lon_max) / 2)


ZONE_NAMES = (
    "Old Harbour", "Cathedral", "Market Hill", "Foundry",
    "University", "Central Station", "Parliament", "Riverside",
    "Canal Quarter", "Garden City", "Stadium", "Tannery",
    "North Docks", "Observatory", "Barracks", "Lantern Row",
)  # fmt: skip


@dataclass(frozen=True)
class City:
    """A ``rows`` × ``cols`` grid of zones over a bounding box (defaults: a 16-district city)."""

    name: str = "Concordia"
    lat_min: float = 48.80
    lat_max: float = 48.90
    lon_min: float = 2.25
    lon_max: float = 2.42
    rows: int = 4
    cols: int = 4

    @cached_property
    def zones(self) -> tuple[Zone, ...]:
        if self.rows * self.cols > len(ZONE_NAMES):
            raise ValueError(f"at most {len(ZONE_NAMES)} zones have names")
        dlat = (self.lat_max - self.lat_min) / self.rows
        dlon = (self.lon_max - self.lon_min) / self.cols
        return tuple(
            Zone(
                name=ZONE_NAMES[r * self.cols + c],
                row=r,
                col=c,
                lat_min=self.lat_min + r * dlat,
                lat_max=self.lat_min + (r + 1) * dlat,
                lon_min=self.lon_min + c * dlon,
                lon_max=self.lon_min + (c + 1) * dlon,
            )
            for r in range(self.rows)
            for c in range(self.cols)
        )

    def zone_at(self, lat: float, lon: float) -> Zone:
        """The zone containing a point (points on the outer edge belong to the border zone)."""
        if not (self.lat_min <= lat <= self.lat_max and self.lon_min <= lon <= self.lon_max):
            raise ValueError(f"({lat}, {lon}) is outside {self.name}")
        r = min(int((lat - self.lat_min) / (self.lat_max - self.lat_min) * self.rows), self.rows - 1)
        c = min(int((lon - self.lon_min) / (self.lon_max - self.lon_min) * self.cols), self.cols - 1)
        return self.zones[r * self.cols + c]


CITY = City()
