"""Seeded EV charging sessions with the distributions of the CIGRE MV study.

Arrival clock hour ~ GEV(ξ = −0.06, σ = 0.85 h, μ = 17.3 h) (ξ in the usual sign convention; scipy's
`genextreme` takes c = −ξ), departure clock hour next morning ~ Weibull(scale 7.67 h, shape 21.83),
initial SOC ~ Normal(0.49, 0.04).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

ARRIVAL = stats.genextreme(c=0.06, loc=17.3, scale=0.85)
DEPARTURE = stats.weibull_min(c=21.83, scale=7.67)
INITIAL_SOC = stats.norm(loc=0.49, scale=0.04)


@dataclass(frozen=True)
class Sessions:
    """One day's sessions, times in hours from the start of the horizon, energies grid-side."""
    arrival_h: np.ndarray       # (n,)
    departure_h: np.ndarray     # (n,)
    p_max_mw: np.ndarray        # (n,) charger power
    e_required_mwh: np.ndarray  # (n,) energy to reach the target SOC, capped at what the session can take
    e_room_mwh: np.ndarray      # (n,) energy to a full battery, same cap
    controllable: np.ndarray    # (n,) bool
    e_drain_mwh: np.ndarray | None = None   # (n,) battery energy above the SOC floor at arrival (V2G); 0 if None
    soc0: np.ndarray | None = None          # (n,) SOC at arrival, where known (sampled sessions)
    battery_mwh: float = 0.0                # battery size, where known

    def __post_init__(self):
        if self.e_drain_mwh is None:
            object.__setattr__(self, "e_drain_mwh", np.zeros(len(self.arrival_h)))

    def __len__(self):
        return len(self.arrival_h)


def plugged_fraction(s: Sessions, steps: int, dt_h: float) -> np.ndarray:
    """(n × T) share of each step during which each EV is plugged in."""
    start = np.arange(steps) * dt_h
    overlap = np.minimum(s.departure_h[:, None], start + dt_h) - np.maximum(s.arrival_h[:, None], start)
    return np.clip(overlap / dt_h, 0.0, 1.0)


def sample_sessions(n: int, rng: np.random.Generator, *, horizon_start_h: float, horizon_h: float,
                    battery_kwh: float, charger_kw: float, efficiency: float, target_soc: float,
                    controllable_share: float, soc_min: float = 0.2, population: str = "cigre") -> Sessions:
    """Sample `n` sessions; times outside the horizon are clipped to it.

    `cigre`: overnight home charging with the study's distributions (module docstring): a homogeneous fleet,
    arrivals within about ±1 h and departures within ±0.5 h of each other.
    `mixed` (an assumption, to test regions on a heterogeneous fleet): half such home sessions, half
    opportunity sessions arriving uniformly 12:00–22:00 for 1–4 h (uniform), initial SOC uniform 0.2–0.8."""
    arrival = ARRIVAL.rvs(size=n, random_state=rng) - horizon_start_h
    departure = DEPARTURE.rvs(size=n, random_state=rng) + 24.0 - horizon_start_h
    soc0 = np.clip(INITIAL_SOC.rvs(size=n, random_state=rng), 0.0, 1.0)
    if population == "mixed":
        short = np.arange(n) % 2 == 1
        arrival[short] = rng.uniform(12.0, 22.0, short.sum()) - horizon_start_h
        departure[short] = arrival[short] + rng.uniform(1.0, 4.0, short.sum())
        soc0[short] = rng.uniform(0.2, 0.8, short.sum())
    elif population != "cigre":
        raise ValueError(f"unknown session population '{population}'")
    arrival = np.clip(arrival, 0.0, horizon_h)
    departure = np.clip(departure, arrival, horizon_h)
    p_max = np.full(n, charger_kw / 1000.0)
    deliverable = p_max * (departure - arrival)
    to_target = np.maximum(target_soc - soc0, 0.0) * battery_kwh / 1000.0 / efficiency
    to_full = (1.0 - soc0) * battery_kwh / 1000.0 / efficiency
    controllable = np.arange(n) < round(controllable_share * n)
    drain = np.maximum(soc0 - soc_min, 0.0) * battery_kwh / 1000.0
    return Sessions(arrival, departure, p_max, np.minimum(to_target, deliverable), np.minimum(to_full, deliverable),
                    controllable, drain, soc0, battery_kwh / 1000.0)


@dataclass(frozen=True)
class SessionRecords:
    """Real charging sessions read from a CSV, all stations, absolute times."""
    bus: np.ndarray            # (n,) feeder bus of the station
    plug_in: np.ndarray        # (n,) datetime64
    plug_out: np.ndarray       # (n,) datetime64
    energy_kwh: np.ndarray     # (n,) delivered

    def on_day(self, bus: int, start: np.datetime64, horizon_h: float, p_max_mw: float, controllable_share: float,
               room_factor: float = 1.0) -> Sessions:
        """The sessions of one station plugged in during [start, start + horizon), times relative to start;
        a session running past the horizon is cut there and its energy capped at what still fits."""
        start = np.datetime64(start)
        hours = lambda t: (t - start) / np.timedelta64(1, "h")  # noqa: E731
        sel = (self.bus == bus) & (hours(self.plug_in) >= 0) & (hours(self.plug_in) < horizon_h)
        arrival = hours(self.plug_in[sel])
        departure = np.minimum(hours(self.plug_out[sel]), horizon_h)
        p_max = np.full(sel.sum(), p_max_mw)
        energy = np.minimum(self.energy_kwh[sel] / 1000.0, p_max * (departure - arrival))
        n = len(arrival)
        return Sessions(arrival, departure, p_max, energy, energy * room_factor,
                        np.arange(n) < round(controllable_share * n))


def read_sessions_csv(path, charger_kw: float, battery_kwh: float = np.inf, efficiency: float = 1.0,
                      station_buses=None) -> SessionRecords:
    """CSV with columns `bus`, `plug_in`, `plug_out`, `energy_kwh` (grid side). Overnight sessions are fine
    (the dates carry them). Impossible records — plug-out not after plug-in, energy above what the charger
    could deliver in the session or above what the battery holds (η · energy > battery), negative or missing
    values, a bus with no charging station — are rejected together: one error with their count and the first
    rows."""
    import pandas as pd

    from ..errors import InputError

    field = f"ev.sessions_csv ({path})"
    try:
        table = pd.read_csv(path)
    except FileNotFoundError:
        raise InputError("ev.sessions_csv", f"file '{path}' not found") from None
    missing = {"bus", "plug_in", "plug_out", "energy_kwh"} - set(table.columns)
    if missing:
        raise InputError(field, f"missing columns {sorted(missing)}; need bus, plug_in, plug_out, energy_kwh")
    plug_in = pd.to_datetime(table["plug_in"], errors="coerce")
    plug_out = pd.to_datetime(table["plug_out"], errors="coerce")
    energy = pd.to_numeric(table["energy_kwh"], errors="coerce")
    bus = pd.to_numeric(table["bus"], errors="coerce")
    hours = (plug_out - plug_in).dt.total_seconds() / 3600.0
    reasons = pd.Series("", index=table.index)
    reasons[plug_in.isna() | plug_out.isna()] = "unreadable time"
    reasons[(reasons == "") & (bus.isna() | energy.isna() | (energy < 0))] = "missing or negative bus/energy"
    reasons[(reasons == "") & ~(hours > 0)] = "plug-out not after plug-in"
    reasons[(reasons == "") & (energy > charger_kw * hours + 1e-9)] = f"energy above {charger_kw:g} kW × duration"
    reasons[(reasons == "") & (efficiency * energy > battery_kwh + 1e-9)] = \
        f"energy above the {battery_kwh:g} kWh battery (at efficiency {efficiency:g})"
    if station_buses is not None:
        reasons[(reasons == "") & ~bus.isin(list(station_buses))] = \
            f"bus has no charging station (stations at {sorted(station_buses)})"
    bad = reasons[reasons != ""]
    if len(bad):
        examples = "; ".join(f"row {i + 2}: {r}" for i, r in bad.head(3).items())
        raise InputError(field, f"{len(bad)} impossible records ({examples})")
    return SessionRecords(bus.to_numpy(dtype=int), plug_in.to_numpy(), plug_out.to_numpy(), energy.to_numpy(float))
