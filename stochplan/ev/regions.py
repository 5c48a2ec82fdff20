"""A station's region: the set of aggregate charging schedules its EVs can follow (their Minkowski sum),
exactly or approximated from outside, as cvxpy constraints on the station's aggregate powers.

With g_t = Δt (η P_ch,t − P_dis,t / η) the station's battery-side energy in step t and G(t) = Σ_{τ≤t} g_τ:
- `envelope` (first order):  0 ≤ P_ch ≤ Σ_i p̄_i f_i,  0 ≤ P_dis ≤ Σ_i p̄_i f_i [V2G],
                             Σ_i L_i(t) − short ≤ G(t) ≤ Σ_i U_i(t)                      (T rows each)
- `interval` (second order): the envelope and, for every interval (s, t],
                             Σ_i lo_i(s, t) − short ≤ G(t) − G(s) ≤ Σ_i hi_i(s, t)      (T(T+1)/2 rows each)
- `individual` (exact):      every EV's own set (fleet.py), P = Σ_i p_i, short = Σ_i u_i
`short` [MWh] is energy owed to the EVs and not delivered (penalised by the caller); powers in MW.
Every sum of individually feasible schedules lies in the interval region, which lies in the envelope.
"""
from __future__ import annotations

from dataclasses import dataclass

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from .fleet import Fleet, interval_bounds

KINDS = ("envelope", "interval", "individual")


@dataclass
class Region:
    constraints: list
    ev_charge: cp.Variable | None = None      # (n, T) per-EV charging [MW], `individual` only
    ev_discharge: cp.Variable | None = None   # (n, T) per-EV discharging [MW], `individual` with V2G
    ev_energy: cp.Expression | None = None    # (n, T) per-EV energy gained since the start [MWh]


def station_region(kind: str, fleet: Fleet, p_ch, p_dis=None, short=0.0) -> Region:
    """Constraints tying the station's aggregate charging `p_ch` (T,) and discharging `p_dis` (T,) [MW,
    nonnegative; None without V2G] to its fleet's region of the given kind."""
    if kind not in KINDS:
        raise ValueError(f"unknown region '{kind}'")
    if kind == "individual":
        return _individual(fleet, p_ch, p_dis, short)
    if p_dis is not None and not fleet.v2g:
        return Region(station_region(kind, fleet, p_ch, None, short).constraints + [p_dis == 0])
    if kind == "envelope":
        return envelope_region(*envelope_sums(fleet), fleet.efficiency, fleet.dt_h, p_ch, p_dis, short)
    s, t, lo, hi = interval_bounds(fleet)     # (0, t] among them: the envelope's energy rows
    window = _interval_matrix(s, t, fleet.steps)
    g = battery_side_energy(p_ch, p_dis, fleet.efficiency, fleet.dt_h)
    return Region(power_bounds(fleet.p_max_mw.sum(0), p_ch, p_dis) + [window @ g >= lo - short, window @ g <= hi])


def envelope_sums(fleet: Fleet) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(T,) each: the fleet's summed power bound Σ_i p̄_i f_i [MW] and energy window Σ_i L_i(t), Σ_i U_i(t)
    at the end of each step [MWh, battery side]: all the envelope reads."""
    return fleet.p_max_mw.sum(0), fleet.e_lo[:, 1:].sum(0), fleet.e_hi[:, 1:].sum(0)


def battery_side_energy(p_ch, p_dis, efficiency: float, dt_h: float):
    """g_t = Δt (η P_ch,t − P_dis,t / η) [MWh]."""
    return dt_h * efficiency * p_ch - (dt_h / efficiency * p_dis if p_dis is not None else 0)


def envelope_region(p_max, e_lo, e_hi, efficiency: float, dt_h: float, p_ch, p_dis=None, short=0.0) -> Region:
    """0 ≤ P_ch, P_dis ≤ Σ p̄ f, Σ L(t) − short ≤ G(t) ≤ Σ U(t), from the sums alone (`envelope_sums`; arrays
    or cvxpy Parameters: a model shared by many days re-sets them per day)."""
    cum = cp.cumsum(battery_side_energy(p_ch, p_dis, efficiency, dt_h))
    return Region(power_bounds(p_max, p_ch, p_dis) + [cum >= e_lo - short, cum <= e_hi])


def power_bounds(p_max, p_ch, p_dis=None) -> list:
    """P_ch ≤ Σ p̄ f and P_dis ≤ Σ p̄ f [MW]."""
    return [p_ch <= p_max] + ([p_dis <= p_max] if p_dis is not None else [])


def _interval_matrix(s: np.ndarray, t: np.ndarray, steps: int) -> sp.csr_matrix:
    """(intervals × T): row k sums steps s_k+1 .. t_k (1-based), i.e. columns s_k .. t_k − 1."""
    lengths = t - s
    rows = np.repeat(np.arange(len(s)), lengths)
    position = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)   # 0.. within a row
    cols = np.repeat(s, lengths) + position
    return sp.csr_matrix((np.ones(len(cols)), (rows, cols)), shape=(len(s), steps))


def _individual(fleet: Fleet, p_ch, p_dis, short) -> Region:
    """0 ≤ p_i ≤ p̄_i f_i;  L_i(t) − u_i ≤ E_i(t) ≤ U_i(t);  P = Σ_i p_i;  short = Σ_i u_i."""
    n, steps, eta, dt = fleet.n, fleet.steps, fleet.efficiency, fleet.dt_h
    charge = cp.Variable((n, steps), nonneg=True)
    discharge = cp.Variable((n, steps), nonneg=True) if fleet.v2g and p_dis is not None else None
    gain = dt * eta * charge - (dt / eta * discharge if discharge is not None else 0)
    energy = cp.cumsum(gain, axis=1)
    unmet = cp.Variable(n, nonneg=True)
    cons = [charge <= fleet.p_max_mw, cp.sum(charge, axis=0) == p_ch,
            energy >= fleet.e_lo[:, 1:] - cp.reshape(unmet, (n, 1), order="F") @ np.ones((1, steps)),
            energy <= fleet.e_hi[:, 1:]]
    if discharge is not None:
        cons += [discharge <= fleet.p_max_mw, cp.sum(discharge, axis=0) == p_dis]
    elif p_dis is not None:
        cons.append(p_dis == 0)
    cons.append(unmet == 0 if isinstance(short, (int, float)) else cp.sum(unmet) == short)
    return Region(cons, charge, discharge, energy)
