"""The envelope aggregate of a station's EVs (first-order outer approximation of their Minkowski sum).

For EV i plugged in a fraction f_it of step t:
    0 ≤ p_it ≤ p̄_i f_it                                          [MW]
    E_lo_i(t) ≤ Δt Σ_{τ≤t} p_iτ ≤ E_hi_i(t)                       [MWh]
    E_hi_i(t) = min(Δt Σ_{τ≤t} p̄_i f_iτ, room_i),  E_lo_i(t) = max(0, req_i − Δt Σ_{τ>t} p̄_i f_iτ)
The station's envelope sums these bounds over its controllable EVs (grid side; the plots show them). The
day model's constraints come from fleet.py and regions.py, in battery-side energy. Uncontrolled EVs charge
at full power from plug-in until their energy is delivered: a fixed profile.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .fleet import fleet_of
from .sessions import Sessions, plugged_fraction


@dataclass(frozen=True)
class StationProfiles:
    """(stations × T) arrays for one day."""
    flex_p_max_mw: np.ndarray
    flex_e_min_mwh: np.ndarray     # cumulative energy at the end of each step
    flex_e_max_mwh: np.ndarray
    fixed_p_mw: np.ndarray         # uncontrolled charging
    energy_required_mwh: np.ndarray  # (stations,) all EVs, grid side
    fleets: tuple = ()             # per station: its controllable EVs' feasible sets (fleet.Fleet)
    sessions: tuple = ()           # per station: all its sessions (Sessions)

    @classmethod
    def empty(cls, steps: int) -> StationProfiles:
        z = np.zeros((0, steps))
        return cls(z, z, z, z, np.zeros(0))


def envelope_bounds(s: Sessions, steps: int, dt_h: float):
    """Per-EV power bound and cumulative energy bounds, (n × T) each."""
    p_max = s.p_max_mw[:, None] * plugged_fraction(s, steps, dt_h)
    e_possible = np.cumsum(p_max, axis=1) * dt_h
    e_still_possible = e_possible[:, -1:] - e_possible
    e_max = np.minimum(e_possible, s.e_room_mwh[:, None])
    e_min = np.maximum(0.0, s.e_required_mwh[:, None] - e_still_possible)
    return p_max, e_min, e_max


def uncontrolled_profile(s: Sessions, steps: int, dt_h: float) -> np.ndarray:
    """(n × T) full power from plug-in until the required energy is delivered."""
    p_max, _, _ = envelope_bounds(s, steps, dt_h)
    delivered_before = np.cumsum(p_max, axis=1) * dt_h - p_max * dt_h
    return np.clip(s.e_required_mwh[:, None] - delivered_before, 0.0, p_max * dt_h) / dt_h


def station_profiles(fleets: list[Sessions], steps: int, dt_h: float, efficiency: float = 1.0,
                     v2g: bool = False) -> StationProfiles:
    rows = []
    for s in fleets:
        p_max, e_min, e_max = envelope_bounds(s, steps, dt_h)
        flex = s.controllable
        rows.append((p_max[flex].sum(0), e_min[flex].sum(0), e_max[flex].sum(0),
                     uncontrolled_profile(s, steps, dt_h)[~flex].sum(0), s.e_required_mwh.sum()))
    if not rows:
        return StationProfiles.empty(steps)
    cols = list(zip(*rows))
    controllable = tuple(fleet_of(s, steps, dt_h, efficiency, v2g).subset(s.controllable) for s in fleets)
    return StationProfiles(*(np.array(c) for c in cols[:4]), np.array(cols[4]), controllable, tuple(fleets))
