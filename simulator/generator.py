"""Turn the world into drone reports, a batch at a time, deterministically from the seed.

Everything random for a batch is drawn at once with numpy (who is seen, who is agitated, what they say,
where the drone is) into columns, which ``simulator.report_writer`` turns into JSON lines. Event times
are either a backfill clock (``start`` + n × interval / drones) or the wall clock (live mode).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from lakehouse.city import CITY, City
from simulator.config import SimulatorConfig
from simulator.episodes import GroundTruth, RiotEpisode, plan_day
from simulator.report_writer import BatchColumns, ReportWriter
from simulator.wear import CAUSES, EVENTS, Wear
from simulator.world import Fleet, Lexicon, Population

MAX_WORDS = 5
BATCH = 4096


@dataclass(frozen=True)
class Lane:
    """Which share of the fleet one producer process simulates: the drones ``d`` with ``d % of == index``."""

    index: int = 0
    of: int = 1


@dataclass(frozen=True)
class Batch:
    """Encoded reports ready for Kafka: key (drone id), value (JSON) and event time in epoch ms."""

    keys: list[bytes]
    values: list[bytes]
    event_ms: np.ndarray


def _mood_cdf(lex: Lexicon) -> np.ndarray:
    """The calm, agitated and rioting word distributions as one increasing CDF over [0, 3): mood k's words
    are at k + its CDF, so one uniform draw plus the speaker's mood picks a word of that mood."""
    cdfs = []
    for k, p in enumerate((lex.calm_p, lex.agitated_p, lex.riot_p)):
        cdf = np.cumsum(p)
        cdf[-1] = 1.0
        cdfs.append(k + cdf)
    return np.concatenate(cdfs)


class InverseCdf:
    """``np.searchsorted(cdf, x, side="right")`` for many ``x`` at once, exactly, at a third of its cost: a
    guide table gives, per bin of width 1/``bins``, the answer for the bin's lower edge; the few ``x`` past
    the next step of the CDF in their bin are moved on (the profile put 13% of generation in the search)."""

    def __init__(self, cdf: np.ndarray, bins: int = 256) -> None:
        self._cdf = cdf
        self._scale = float(bins)  # a power of two: x * scale is exact, so a bin's edge is never above x
        edges = np.arange(int(np.ceil(cdf[-1])) * bins + 1) / self._scale
        self._guide = np.searchsorted(cdf, edges, side="right")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """x in [0, cdf[-1])."""
        flat = x.ravel()
        at = self._guide[(flat * self._scale).astype(np.intp)]
        last = len(self._cdf) - 1
        todo = np.flatnonzero(self._cdf[np.minimum(at, last)] <= flat)
        while len(todo):
            at[todo] += 1
            todo = todo[(at[todo] <= last) & (self._cdf[np.minimum(at[todo], last)] <= flat[todo])]
        out: np.ndarray = at.reshape(x.shape)
        return out


class ReportGenerator:
    def __init__(
        self,
        config: SimulatorConfig,
        ground_truth: GroundTruth | None = None,
        city: City = CITY,
        id_salt: int = 0,
        lane: Lane | None = None,
    ) -> None:
        self.config = config
        self.city = city
        world = np.random.default_rng([config.seed, 0x3041D])
        self.population = Population.generate(config, city, world)
        self.fleet = Fleet.generate(config, city, world)
        self.lexicon = Lexicon.default()
        self.wear = Wear(config, config.drones)
        self.ground_truth = ground_truth or GroundTruth()
        self.lane = lane or Lane()
        # One process draws as it always did; each lane of several draws its own stream.
        extra = [] if self.lane.of == 1 else [self.lane.index, self.lane.of]
        self._rng = np.random.default_rng([config.seed, 0x5EED, id_salt, *extra])
        self.drones = np.flatnonzero(np.arange(config.drones) % self.lane.of == self.lane.index)
        self.writer = ReportWriter(
            self.population.ids,
            self.population.names,
            self.fleet.ids,
            self.fleet.firmware,
            [z.name for z in city.zones],
            self.lexicon.words,
            [e.value for e in EVENTS],
        )
        self._drone_keys = [d.encode() for d in self.fleet.ids]
        self._word_at = InverseCdf(_mood_cdf(self.lexicon))
        self._days: dict[int, list[RiotEpisode]] = {}
        self._bounds: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._seq = 0

    # ---- riots -----------------------------------------------------------------------------------
    def episodes_on(self, day_ordinal: int) -> list[RiotEpisode]:
        if day_ordinal not in self._days:
            day = datetime.fromordinal(day_ordinal).replace(tzinfo=UTC)
            self._days[day_ordinal] = plan_day(day, self.config, self.city, self.fleet, self.population)
        return self._days[day_ordinal]

    def _bounds_on(self, day_ordinal: int) -> tuple[np.ndarray, np.ndarray]:
        """The day's episode starts and ends in epoch seconds, computed once (live mode asks often)."""
        if day_ordinal not in self._bounds:
            episodes = self.episodes_on(day_ordinal)
            self._bounds[day_ordinal] = (
                np.array([e.start.timestamp() for e in episodes], dtype=np.float64),
                np.array([e.end.timestamp() for e in episodes], dtype=np.float64),
            )
        return self._bounds[day_ordinal]

    def _active(self, t0: float, t1: float) -> list[RiotEpisode]:
        """Episodes overlapping [t0, t1] (epoch seconds); an episode can start the day before."""
        first = datetime.fromtimestamp(t0, UTC).toordinal() - 1
        last = datetime.fromtimestamp(t1, UTC).toordinal()
        out: list[RiotEpisode] = []
        for day in range(first, last + 1):
            starts, ends = self._bounds_on(day)
            episodes = self.episodes_on(day)
            out.extend(episodes[i] for i in np.flatnonzero((starts <= t1) & (ends > t0)))
        return out

    # ---- reports ---------------------------------------------------------------------------------
    def backfill(self, start: datetime, count: int) -> Iterator[Batch]:
        """``count`` reports from ``start`` on, each drone reporting every ``report_interval_s``; a lane
        yields those of the ``count`` that are its drones'.

        The batches' boundaries are fixed (``BATCH`` reports of the fleet's sequence per lane), since the
        random draws depend on them.
        """
        drones, of = self.config.drones, self.lane.of
        step = self.config.report_interval_s / drones
        t_start = start.astimezone(UTC).timestamp()
        for first in range(0, count, BATCH * of):
            seq = np.arange(first, min(first + BATCH * of, count))
            if of > 1:
                seq = seq[seq % drones % of == self.lane.index]
            if len(seq):
                yield self.batch(t_start + seq * step, seq % drones)

    def backfill_end(self, start: datetime, count: int) -> datetime:
        return start + timedelta(seconds=count * self.config.report_interval_s / self.config.drones)

    def batch(self, t: np.ndarray, drone: np.ndarray) -> Batch:
        """Reports for drones ``drone`` at epoch seconds ``t`` (both arrays of one length).

        The steps draw from one random stream in a fixed order (a seed gives the same bytes): who is
        seen, who is agitated, the riots' extra citizens, what each says, then the drones' telemetry."""
        n = len(t)
        event_ms = np.round(t * 1000).astype(np.int64)
        t = event_ms / 1000.0
        zone = self.fleet.zone[drone]
        report_of, citizen = self._seen(zone, n)
        agitated = self._agitated(event_ms, report_of, citizen)
        report_of, citizen, agitated, rioting = self._with_rioters(zone, t, report_of, citizen, agitated)
        said, used, n_words, score = self._speech(agitated, rioting)

        lat, lon, alt = self.fleet.positions(drone, t)
        wear, events = self.wear.observe(drone, t)
        health = self.wear.telemetry(drone, t, wear, self.fleet.period_s[drone], self._rng)
        battery, temp, signal = health.battery, health.temp, health.signal
        if events.ends:
            self.ground_truth.record_drone_events(
                [(self.fleet.ids[d], at, EVENTS[c].value, CAUSES[c]) for d, at, c in events.ends]
            )
        cols = BatchColumns(
            report_ids=self._rng.bytes(16 * n).hex(),
            drone=drone,
            zone=zone,
            event_ms=event_ms,
            lat=lat.round(6),
            lon=lon.round(6),
            alt=alt.round(1),
            battery=battery.round(1),
            temp=temp.round(1),
            signal=signal.round(1),
            event=events.cause,
            citizen=citizen,
            score=score,
            citizen_bounds=np.searchsorted(report_of, np.arange(n + 1)),
            words=said[used],
            word_bounds=np.concatenate(
                [[0], np.cumsum(np.bincount(report_of, weights=n_words, minlength=n))]
            ).astype(np.int64),
        )
        values = self.writer.write(cols)
        self._seq += n
        return Batch(keys=[self._drone_keys[d] for d in drone.tolist()], values=values, event_ms=event_ms)

    def _seen(self, zone: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Who each drone sees: residents of its zone (the report each sighting belongs to, the citizen)."""
        rng, pop = self._rng, self.population
        seen_n = rng.poisson(self.config.citizens_per_report, size=n)
        report_of = np.repeat(np.arange(n), seen_n)
        zone_of = zone[report_of]
        citizen = np.empty(len(report_of), dtype=np.int64)
        u = rng.random(len(report_of))
        for z in np.unique(zone_of):
            mask = zone_of == z
            res = pop.residents[z]
            citizen[mask] = res[(u[mask] * len(res)).astype(np.int64)]
        return report_of, citizen

    def _agitated(self, event_ms: np.ndarray, report_of: np.ndarray, citizen: np.ndarray) -> np.ndarray:
        """Background unrest follows the daily and weekly rhythm, times each citizen's temperament."""
        cfg = self.config
        hours = ((event_ms // 3_600_000) % 24)[report_of]
        weekend = (((event_ms // 86_400_000) + 3) % 7 >= 5)[report_of]  # 1970-01-01 was a Thursday
        unrest = np.asarray(cfg.hourly_profile)[hours] * np.where(weekend, cfg.weekend_multiplier, 1.0)
        chance = np.minimum(1.0, cfg.base_agitation * unrest * self.population.temperament[citizen])
        return np.asarray(self._rng.random(len(citizen)) < chance)

    def _with_rioters(
        self,
        zone: np.ndarray,
        t: np.ndarray,
        report_of: np.ndarray,
        citizen: np.ndarray,
        agitated: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Riot episodes add rioters to the reports of drones in the episode's zone (recorded as ground
        truth); the sightings stay ordered by report."""
        rng = self._rng
        extra_reports, extra_citizens = [], []
        for episode in self._active(float(t[0]), float(t[-1])):
            inside = np.flatnonzero(
                (zone == episode.zone_index)
                & (t >= episode.start.timestamp())
                & (t < episode.end.timestamp())
            )
            if not len(inside):
                continue
            self.ground_truth.record([episode], self.population)
            k = rng.poisson(self.config.rioters_per_report, size=len(inside))
            rioters = np.asarray(episode.rioters)
            extra_reports.append(np.repeat(inside, k))
            extra_citizens.append(rioters[rng.integers(0, len(rioters), size=int(k.sum()))])
        rioting = np.zeros(len(citizen), dtype=bool)
        if not extra_reports:
            return report_of, citizen, agitated, rioting
        report_of = np.concatenate([report_of, *extra_reports])
        citizen = np.concatenate([citizen, *extra_citizens])
        n_extra = len(citizen) - len(agitated)
        agitated = np.concatenate([agitated, np.ones(n_extra, dtype=bool)])
        rioting = np.concatenate([rioting, np.ones(n_extra, dtype=bool)])
        order = np.argsort(report_of, kind="stable")
        return report_of[order], citizen[order], agitated[order], rioting[order]

    def _speech(
        self, agitated: np.ndarray, rioting: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """What each citizen says (word indices, which of MAX_WORDS slots are used, how many), and the
        score the drone computes from it."""
        rng, lex = self._rng, self.lexicon
        m = len(agitated)
        n_words = rng.integers(2, MAX_WORDS + 1, size=m)
        # One uniform draw per word, looked up in the speaker's mood's distribution (what rng.choice does,
        # without drawing all three moods for everyone).
        vocab = len(lex.words)
        mood = np.where(rioting, 2, np.where(agitated, 1, 0))[:, None]
        at = self._word_at(rng.random((m, MAX_WORDS)) + mood)
        said = np.clip(at, mood * vocab, (mood + 1) * vocab - 1) - mood * vocab
        used = np.arange(MAX_WORDS)[None, :] < n_words[:, None]
        mean_weight = (lex.weights[said] * used).sum(axis=1) / n_words
        score = np.clip(50 + 50 * mean_weight + rng.normal(0, 2.0, size=m), 0, 100).round(1)
        return said, used, n_words, score
