"""Charging-time operation of a feeder's EV fleet (the CIGRE MV strategy comparison), one day, every EV
explicit:

    min  mean_{i,t} (soc_it − soc*)²  +  w · mean_{i,t} (p_ch,it + p_dis,it) / p̄_i
    s.t. DistFlow SOCP of the feeder (the day model's constraint families), loads fixed,
         each EV in its own feasible set (ev/fleet.py), soc_it = soc0_i + E_it / B,
         per station n: p_ch + p_dis ≤ C_n, and with reactive support ‖(p_ch − p_dis, q)‖ ≤ C_n, else q = 0,
with C_n = (EVs at n) × charger kVA. The strategy decides V2G (discharge allowed) and reactive support.
"""
from __future__ import annotations

from dataclasses import dataclass

import cvxpy as cp
import numpy as np

from ..ev.fleet import Fleet
from ..ev.regions import station_region
from ..network import Ref
from ..scenarios import Day
from ..solvers import solve_conic
from .operation import (
    FORMULATIONS,
    GridVariables,
    constraint_limits,
    constraint_model_current,
    constraint_power_balance,
    constraint_substation,
    constraint_voltage_drop,
    incidence,
    vec,
)

POWER_WEIGHT = 1e-3      # w: a small price on charging and discharging, so idle power stays idle


@dataclass(frozen=True)
class ChargingResult:
    charge_mw: np.ndarray      # (stations, T) grid side
    discharge_mw: np.ndarray   # (stations, T)
    q_mvar: np.ndarray         # (stations, T)
    soc: np.ndarray            # (EVs, T+1), all stations stacked, column 0 at the start
    v_pu: np.ndarray           # (N, T) the model's voltages


def soc_of(fleets: list[Fleet], energy: list[np.ndarray]) -> np.ndarray:
    """(EVs × T+1) SOC from each EV's energy gained since the start (n × T, battery side)."""
    rows = [f.soc0[:, None] + np.concatenate([np.zeros((f.n, 1)), e], axis=1) / f.battery_mwh
            for f, e in zip(fleets, energy)]
    return np.concatenate(rows) if rows else np.zeros((0, 1))


def solve_charging(ref: Ref, day: Day, fleets: list[Fleet], capacity_mw: np.ndarray, target_soc: float,
                   reactive_support: bool) -> ChargingResult:
    base = ref.base_mva
    n, steps, n_st = ref.n_bus, day.steps, len(fleets)
    grid = GridVariables.create(FORMULATIONS["socp"], ref, steps)
    p_ch, p_dis = cp.Variable((n_st, steps), nonneg=True), cp.Variable((n_st, steps), nonneg=True)
    q = cp.Variable((n_st, steps))
    at_ev = incidence(n, ref.station_bus)
    p_net = day.load_p_mw / base + at_ev @ (p_ch - p_dis)
    q_net = day.load_q_mvar / base + at_ev @ q

    cons = (constraint_power_balance(grid, ref, p_net, q_net) + constraint_voltage_drop(grid, ref)
            + constraint_model_current(grid, ref) + constraint_limits(grid, ref) + constraint_substation(grid, ref))
    deviation, power, energy = [], [], []
    for k, fleet in enumerate(fleets):
        region = station_region("individual", fleet, base * p_ch[k], base * p_dis[k] if fleet.v2g else None)
        cons += region.constraints
        energy.append(region.ev_energy)
        soc = fleet.soc0[:, None] + region.ev_energy / fleet.battery_mwh
        deviation.append(cp.sum_squares(soc - target_soc))
        used = region.ev_charge + (region.ev_discharge if region.ev_discharge is not None else 0)
        rating = fleet.p_max_mw.max(axis=1)
        per_rating = np.divide(1.0, rating, out=np.zeros_like(rating), where=rating > 0)   # never-plugged: 0
        power.append(cp.sum(cp.multiply(per_rating[:, None], used)))
    if not any(f.v2g for f in fleets):
        cons.append(p_dis == 0)
    cap = np.repeat(np.asarray(capacity_mw)[:, None] / base, steps, axis=1)
    cons.append(p_ch + p_dis <= cap)
    if reactive_support:
        cons.append(cp.SOC(vec(cap), cp.vstack([vec(p_ch - p_dis), vec(q)]), axis=0))
    else:
        cons.append(q == 0)
    count = sum(f.n for f in fleets) * steps
    problem = cp.Problem(cp.Minimize((sum(deviation) + POWER_WEIGHT * sum(power)) / count), cons)
    solve_conic(problem, f"charging, day {day.day}")
    return ChargingResult(charge_mw=p_ch.value * base, discharge_mw=p_dis.value * base, q_mvar=q.value * base,
                          soc=soc_of(fleets, [np.asarray(e.value) for e in energy]),
                          v_pu=np.sqrt(np.maximum(grid.v.value, 0.0)))
