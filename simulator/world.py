"""The simulated world: citizens with a temperament, drones patrolling zones, and a lexicon of words.

The drone computes each citizen's harmony score from the words it hears that citizen say, so scores and
words agree: agitated citizens speak mostly from the unrest vocabulary and score low.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lakehouse.city import CITY, City
from simulator.config import SimulatorConfig

# word → weight in [-1, 1]; the drone's score is 50 + 50 × the mean weight of what a citizen said.
CALM_WORDS = {
    "harmony": 1.0, "unity": 0.9, "order": 0.8, "grateful": 0.9, "obey": 0.7, "leader": 0.6, "peace": 1.0,
    "progress": 0.7, "together": 0.8, "proud": 0.6, "work": 0.3, "family": 0.5, "bread": 0.2,
    "weather": 0.1, "market": 0.1, "tram": 0.0, "football": 0.1, "coffee": 0.2, "school": 0.3, "music": 0.3,
}  # fmt: skip
GRUMBLE_WORDS = {"tired": -0.3, "prices": -0.4, "queue": -0.3, "rent": -0.4, "curfew": -0.5}
UNREST_WORDS = {
    "riot": -1.0, "revolt": -1.0, "freedom": -0.8, "enough": -0.7, "strike": -0.8, "corrupt": -0.9,
    "liar": -0.9, "march": -0.6, "barricade": -1.0, "resist": -0.9, "justice": -0.6, "hunger": -0.7,
    "tyrant": -1.0,
}  # fmt: skip

FIRST_NAMES = (
    "Ada", "Boris", "Chiara", "Dmitri", "Elif", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Kasia", "Luca",
    "Mira", "Nils", "Olga", "Pavel", "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Vera", "Wim", "Xenia", "Yusuf",
    "Zora", "Anton", "Bea", "Cyril", "Dana", "Emil", "Fleur",
)  # fmt: skip
LAST_NAMES = (
    "Adler", "Berg", "Costa", "Dahl", "Engel", "Fischer", "Gruber", "Horvat", "Ivanova", "Jansen", "Kovac",
    "Lind", "Moreau", "Novak", "Olsen", "Petrov", "Quist", "Rossi", "Schmidt", "Tamm", "Urban", "Vogel",
    "Weber", "Yilmaz", "Zeller", "Andersen", "Brandt", "Cerny", "Duval", "Eriksen", "Falk", "Greco",
)  # fmt: skip
FIRMWARE = ("2.3.1", "2.4.0", "2.4.2")


@dataclass(frozen=True)
class Lexicon:
    words: tuple[str, ...]
    weights: np.ndarray
    calm_p: np.ndarray
    agitated_p: np.ndarray
    riot_p: np.ndarray

    @classmethod
    def default(cls) -> Lexicon:
        words = (*CALM_WORDS, *GRUMBLE_WORDS, *UNREST_WORDS)
        weights = np.array([*CALM_WORDS.values(), *GRUMBLE_WORDS.values(), *UNREST_WORDS.values()])
        n_calm, n_grumble, n_unrest = len(CALM_WORDS), len(GRUMBLE_WORDS), len(UNREST_WORDS)

        def dist(calm: float, grumble: float, unrest: float) -> np.ndarray:
            p = np.array([calm] * n_calm + [grumble] * n_grumble + [unrest] * n_unrest)
            return np.asarray(p / p.sum(), dtype=np.float64)

        return cls(
            words=words,
            weights=weights,
            calm_p=dist(1.0, 0.15, 0.0),
            agitated_p=dist(0.1, 0.4, 1.0),
            riot_p=dist(0.02, 0.2, 1.5),
        )


@dataclass(frozen=True)
class Population:
    ids: list[str]
    names: list[str]
    home_zone: np.ndarray  # zone index per citizen
    temperament: np.ndarray  # multiplier on agitation, mean 1
    residents: list[np.ndarray]  # citizen indices per zone

    @classmethod
    def generate(cls, config: SimulatorConfig, city: City, rng: np.random.Generator) -> Population:
        n, zones = config.citizens, len(city.zones)
        home = rng.integers(0, zones, size=n)
        first = rng.integers(0, len(FIRST_NAMES), size=n)
        last = rng.integers(0, len(LAST_NAMES), size=n)
        return cls(
            ids=[f"c{i:07d}" for i in range(n)],
            names=[f"{FIRST_NAMES[f]} {LAST_NAMES[s]}" for f, s in zip(first, last, strict=True)],
            home_zone=home,
            temperament=rng.gamma(shape=2.0, scale=0.5, size=n),
            residents=[np.flatnonzero(home == z) for z in range(zones)],
        )


@dataclass(frozen=True)
class Fleet:
    """Drones patrolling their zone on smooth, deterministic paths (positions are a function of time)."""

    ids: list[str]
    zone: np.ndarray
    phase: np.ndarray
    period_s: np.ndarray
    firmware: list[str]
    city: City = field(default=CITY)

    @classmethod
    def generate(cls, config: SimulatorConfig, city: City, rng: np.random.Generator) -> Fleet:
        n = config.drones
        return cls(
            ids=[f"drone-{i:04d}" for i in range(n)],
            zone=np.arange(n) % len(city.zones),
            phase=rng.uniform(0, 2 * np.pi, size=n),
            period_s=rng.uniform(600, 1800, size=n),
            firmware=[FIRMWARE[i] for i in rng.integers(0, len(FIRMWARE), size=n)],
            city=city,
        )

    @property
    def patrolled_zones(self) -> np.ndarray:
        return np.unique(self.zone)

    def positions(self, drone: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Latitude, longitude and altitude of each drone at each time (seconds since the epoch)."""
        zones = self.city.zones
        lat_min = np.array([z.lat_min for z in zones])[self.zone[drone]]
        lat_max = np.array([z.lat_max for z in zones])[self.zone[drone]]
        lon_min = np.array([z.lon_min for z in zones])[self.zone[drone]]
        lon_max = np.array([z.lon_max for z in zones])[self.zone[drone]]
        angle = 2 * np.pi * t / self.period_s[drone] + self.phase[drone]
        lat = lat_min + (0.5 + 0.45 * np.sin(angle)) * (lat_max - lat_min)
        lon = lon_min + (0.5 + 0.45 * np.cos(1.3 * angle)) * (lon_max - lon_min)
        alt = 100 + 20 * np.sin(angle * 3)
        return lat, lon, alt
