"""Build the operating days of a case: every day of a profile year reduced to K representatives
(`source = "year"`, profiles.py and reduction.py), synthetic days, or days given in the case file.
Prices, carbon intensity and EV sessions (sampled, or real records) are added to each day here.

Synthetic days: `scenarios.count` days spread evenly over the year, each with weight 1/days. For day d with season s = cos(2π(d − 172)/365) (1 at midsummer):
- load = feeder peak load × residential shape (night 0.55, morning bump at 08:00, evening peak at
  19:00 = 1.0) × (1 − 0.1 s) × bus noise N(1, 0.05), weekends 10 % lower in the morning;
- PV = capacity × sin shape over a daylight of 12 + 4 s hours centred on 13:00 × clear-sky peak
  (0.6 + 0.3 s) × a cloud factor U(0.4, 1.0);
- prices and carbon intensity from the case file, by clock hour (24 values) or per step;
- EV sessions sampled per station with the study's distributions (ev/sessions.py), seed per day.
"""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import Case
from ..errors import InputError
from ..ev import StationProfiles, sample_sessions, station_profiles
from ..ev.sessions import read_sessions_csv
from ..network import Ref
from .profiles import csv_profiles, daily_windows, resample, simbench_profiles
from .reduction import Reduction, features, reduce_days


@dataclass(frozen=True)
class Day:
    day: int                    # day of the year (0-based)
    weight: float               # probability π_s (weights of a case sum to 1)
    dt_h: float
    clock_h: np.ndarray         # (T,) clock hour at the start of each step
    load_p_mw: np.ndarray       # (N, T) internal bus order
    load_q_mvar: np.ndarray     # (N, T)
    pv_avail_mw: np.ndarray     # (n_pv, T)
    buy_eur_per_mwh: np.ndarray   # (T,)
    sell_eur_per_mwh: np.ndarray  # (T,)
    carbon_t_per_mwh: np.ndarray  # (T,)
    ev_sessions: tuple          # per station: the day's EV sessions (ev/sessions.Sessions)
    ev_efficiency: float = 1.0  # grid → battery, and V2G: what the stations' feasible sets are built with
    ev_v2g: bool = False

    @property
    def steps(self) -> int:
        return len(self.clock_h)

    @property
    def ev_energy_mwh(self) -> float:
        """Energy all the day's EVs ask for [MWh, grid side] (a reduction feature)."""
        return float(sum(s.e_required_mwh.sum() for s in self.ev_sessions))

    @cached_property
    def ev(self) -> StationProfiles:
        """The stations' envelopes, uncontrolled profiles and fleets, built on first use: a year reduced to K
        days needs them for its K representatives only (on the default case 0.43 s of the year's 0.70 s)."""
        return station_profiles(list(self.ev_sessions), self.steps, self.dt_h, self.ev_efficiency, self.ev_v2g)


def per_step(series: tuple[float, ...], clock_h: np.ndarray, field: str) -> np.ndarray:
    """A case series given per clock hour (24 values, value h for 00:00–00:59 + h), per step (T ≠ 24 values,
    from the first step of the horizon), or as one constant. 24 values are always clock hours, also when a day
    has 24 steps: a horizon starting at noon then reads value 12 first (read per step before, a day from 12:00
    got hour 0's price at noon: the tariff and carbon intensity ran 12 h shifted)."""
    values = np.asarray(series, dtype=float)
    if len(values) == 1:
        return np.full(len(clock_h), values[0])
    if len(values) == 24:
        return values[np.floor(clock_h).astype(int) % 24]
    if len(values) == len(clock_h):
        return values
    raise InputError(field, f"has {len(values)} values; give 1, 24 (per clock hour) or {len(clock_h)} (per step)")


def _residential_shape(h: np.ndarray, weekend: bool) -> np.ndarray:
    morning = (0.10 if weekend else 0.20) * np.exp(-0.5 * ((h - 8.0) / 1.5) ** 2)
    evening = 0.45 * np.exp(-0.5 * ((h - 19.0) / 2.5) ** 2)
    return 0.55 + morning + evening


def _pv_shape(h: np.ndarray, season: float) -> np.ndarray:
    daylight = 12.0 + 4.0 * season
    phase = (h - (13.0 - daylight / 2)) / daylight
    return np.where((phase > 0) & (phase < 1), np.sin(np.pi * np.clip(phase, 0, 1)), 0.0) ** 1.5


@dataclass(frozen=True)
class Year:
    """Every day of the profile year (weights 1/N) and, when reduced, the representatives."""
    days: list[Day]
    reduction: Reduction | None = None

    def representatives(self) -> list[Day]:
        if self.reduction is None:
            return self.days
        return [replace(self.days[m], weight=float(w))
                for m, w in zip(self.reduction.medoids, self.reduction.weights)]


class _DayMaker:
    """Turns per-day load and PV scales into a Day: prices, carbon and EV sessions are added here."""

    def __init__(self, case: Case, ref: Ref):
        steps = case.time.steps_per_day
        self.case, self.ref, self.steps, self.dt = case, ref, steps, 24.0 / steps
        self.clock = (case.time.horizon_start_h + self.dt * np.arange(steps)) % 24.0
        self.buy = per_step(case.prices.buy_eur_per_mwh, self.clock, "prices.buy_eur_per_mwh")
        self.sell = per_step(case.prices.sell_eur_per_mwh, self.clock, "prices.sell_eur_per_mwh")
        self.carbon = per_step(case.prices.carbon_t_per_mwh, self.clock, "prices.carbon_t_per_mwh")
        bad = np.flatnonzero(self.sell > self.buy + self.carbon * case.prices.carbon_price_eur_per_t + 1e-9)
        if bad.size:
            raise InputError(f"prices.sell_eur_per_mwh[{bad[0]}]", "exceeds the buy price plus carbon cost at that "
                                                                    "step; buying to sell again would be unbounded")
        self.pv_cap = np.array([u.capacity_mw for u in case.pv])
        self.base_p = ref.load_p_pu * ref.base_mva
        self.records = read_sessions_csv(case.ev.sessions_csv, case.ev.charger_kw, case.ev.battery_kwh,
                                         case.ev.efficiency, {st.bus for st in case.chargers.stations}) \
            if case.ev.sessions_csv else None

    def __call__(self, day: int, weight: float, load_scale, pv_scale, seed, start=None) -> Day:
        case = self.case
        if self.records is not None:       # real sessions of the day's horizon, per station
            fleets = [self.records.on_day(st.bus, start, 24.0, case.ev.charger_kw / 1000.0,
                                          case.ev.controllable_share) for st in case.chargers.stations]
        else:
            rng = np.random.default_rng(seed)
            fleets = [sample_sessions(st.evs, rng, horizon_start_h=case.time.horizon_start_h, horizon_h=24.0,
                                      battery_kwh=case.ev.battery_kwh, charger_kw=case.ev.charger_kw,
                                      efficiency=case.ev.efficiency, target_soc=case.ev.target_soc,
                                      controllable_share=case.ev.controllable_share, soc_min=case.ev.soc_min)
                      for st in case.chargers.stations]
        load_p = self.base_p[:, None] * load_scale
        return Day(day=day, weight=weight, dt_h=self.dt, clock_h=self.clock, load_p_mw=load_p,
                   load_q_mvar=load_p * self.ref.load_q_over_p[:, None],
                   pv_avail_mw=(self.pv_cap[:, None] * pv_scale).reshape(len(self.pv_cap), self.steps),
                   buy_eur_per_mwh=self.buy, sell_eur_per_mwh=self.sell, carbon_t_per_mwh=self.carbon,
                   ev_sessions=tuple(fleets), ev_efficiency=case.ev.efficiency, ev_v2g=case.ev.v2g)


def year_of_days(case: Case, ref: Ref, k: int | None = None) -> Year:
    """Every day of the profile year; reduced to `k` (default: scenarios.k) representatives by K-Medoids."""
    sc = case.scenarios
    days = days_of_year(case, ref)
    field = "scenarios.k" if k is None else "--k"
    k = sc.k if k is None else k
    return Year(days=days, reduction=reduce_days(day_features(days, sc.normalisation), k, sc.metric, sc.seed,
                                                 sc.backend, field))


def day_features(days: list[Day], how: str) -> np.ndarray:
    """(days × features) for K-Medoids: each day's feeder load and PV curves, EV energy and price curve."""
    return features([np.array([d.load_p_mw.sum(0) for d in days]), np.array([d.pv_avail_mw.sum(0) for d in days]),
                     np.array([d.ev_energy_mwh for d in days])[:, None],
                     np.array([d.buy_eur_per_mwh for d in days])], how)


def days_of_year(case: Case, ref: Ref, only: Collection[int] | None = None) -> list[Day]:
    """The days of the profile year (weight 1/365 each), or only those numbered in `only`: each day is made
    from its own profile window and its own seed [scenarios.seed, day], so a subset is the same days."""
    pc, sc = case.profiles, case.scenarios
    wanted = tuple(dict.fromkeys([pc.default_load_profile] + [name for name, _ in pc.load_profile_buses]
                                 + [u.profile for u in case.pv]))
    table = simbench_profiles(pc.simbench_grid, wanted) if pc.source == "simbench" else csv_profiles(Path(pc.csv))
    table = resample(table, case.time.steps_per_day)
    names = list(table.columns)

    def column(name: str, field: str) -> int:
        if name not in names:
            raise InputError(field, f"profile '{name}' is not in the profiles ({', '.join(names)})")
        return names.index(name)

    bus_profile = np.full(ref.n_bus, column(pc.default_load_profile, "profiles.default_load_profile"))
    for name, buses in pc.load_profile_buses:
        for i, bus in enumerate(buses):
            bus_profile[ref.bus_index(f"profiles.load_profile_buses.{name}[{i}]", bus)] = \
                column(name, f"profiles.load_profile_buses.{name}")
    pv_profile = [column(u.profile, f"pv[{i}].profile") for i, u in enumerate(case.pv)]
    windows, day_ids = daily_windows(table, case.time.steps_per_day, case.time.horizon_start_h)
    make = _DayMaker(case, ref)
    starts = table.index[0].normalize() + pd.to_timedelta(case.time.horizon_start_h, unit="h") \
        + pd.to_timedelta(np.array(day_ids), unit="D")
    return [make(d, 1.0 / len(day_ids), windows[d][:, bus_profile].T, windows[d][:, pv_profile].T,
                 [sc.seed, d], start=starts[d].to_datetime64()) for d in day_ids if only is None or d in only]


def build_days(case: Case, ref: Ref, k: int | None = None) -> list[Day]:
    """The days a plan is made on: synthetic, explicit, or the K representatives of a year."""
    sc = case.scenarios
    if sc.source == "year":
        return year_of_days(case, ref, k).representatives()
    make = _DayMaker(case, ref)
    steps = case.time.steps_per_day
    if sc.source == "explicit":
        total = sum(d.weight for d in sc.explicit)
        if total <= 0:
            raise InputError("scenarios.day", "weights sum to 0; give positive weights")
        days = []
        for i, d in enumerate(sc.explicit):
            for name, series in (("load_scale", d.load_scale), ("pv_scale", d.pv_scale)):
                if len(series) not in (1, steps):
                    raise InputError(f"scenarios.day[{i}].{name}", f"has {len(series)} values; give 1 or {steps}")
            days.append(make(d.day, d.weight / total, np.broadcast_to(d.load_scale, (steps,)),
                             np.broadcast_to(d.pv_scale, (steps,)), sc.seed + d.day))
        return days

    days = []
    for i in range(sc.days):
        day = int((i + 0.5) * 365 / sc.days)
        rng = np.random.default_rng([sc.seed, day])
        season = np.cos(2 * np.pi * (day - 172) / 365)
        weekend = day % 7 in (5, 6)
        shape = _residential_shape(make.clock, weekend) * (1 - 0.1 * season)
        noise = rng.normal(1.0, 0.05, size=(ref.n_bus, 1))
        pv = _pv_shape(make.clock, season) * (0.6 + 0.3 * season) * rng.uniform(0.4, 1.0)
        days.append(make(day, 1.0 / sc.days, shape[None, :] * noise, pv, [sc.seed, day, 1]))
    return days
