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

    def __len__(self):
        return len(self.arrival_h)


def sample_sessions(n: int, rng: np.random.Generator, *, horizon_start_h: float, horizon_h: float,
                    battery_kwh: float, charger_kw: float, efficiency: float, target_soc: float,
                    controllable_share: float) -> Sessions:
    """Sample `n` overnight sessions; times outside the horizon are clipped to it."""
    arrival = ARRIVAL.rvs(size=n, random_state=rng) - horizon_start_h
    departure = DEPARTURE.rvs(size=n, random_state=rng) + 24.0 - horizon_start_h
    soc0 = np.clip(INITIAL_SOC.rvs(size=n, random_state=rng), 0.0, 1.0)
    arrival = np.clip(arrival, 0.0, horizon_h)
    departure = np.clip(departure, arrival, horizon_h)
    p_max = np.full(n, charger_kw / 1000.0)
    deliverable = p_max * (departure - arrival)
    to_target = np.maximum(target_soc - soc0, 0.0) * battery_kwh / 1000.0 / efficiency
    to_full = (1.0 - soc0) * battery_kwh / 1000.0 / efficiency
    controllable = np.arange(n) < round(controllable_share * n)
    return Sessions(arrival, departure, p_max, np.minimum(to_target, deliverable), np.minimum(to_full, deliverable),
                    controllable)
