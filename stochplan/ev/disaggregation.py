"""Split a station's aggregate dispatch into EV schedules: does the aggregate come from schedules the EVs
can actually follow?

    1.  e* = min_{p_i ∈ F_i(u_i)}  Σ_t (Σ_i p_ch,it − P_ch,t)² + (Σ_i p_dis,it − P_dis,t)²
    2.  min Σ_i u_i  subject to the same sets and, per step, a residual no larger than stage 1's
        (+ 1e-4 of the peak: stage 1 is itself solved to a tolerance, and the solver needs an interior)
where F_i(u_i) is EV i's feasible set (fleet.py) with its energy requirement lowered by u_i ≥ 0. Tracking
comes first: if schedules summing to the aggregate exist, e* = 0 (the LP case); otherwise these are the
closest schedules, and Σ u says how much energy the EVs would miss following them. (One weighted objective
does not do: a squared error has zero slope at zero, so any weight on u buys a little error.)
Reported: tracking nRMSE = RMSE / peak aggregate power, and unmet energy Σ u_i [MWh, battery side].
"""
from __future__ import annotations

from dataclasses import dataclass

import cvxpy as cp
import numpy as np

from ..solvers import solve_conic
from .fleet import Fleet
from .regions import station_region

ROOM = 1e-4               # stage 2's allowance over stage 1's residuals, as a share of the peak power


@dataclass(frozen=True)
class Disaggregation:
    tracking_nrmse: float
    unmet_energy_mwh: float
    charge_mw: np.ndarray          # (n, T)
    discharge_mw: np.ndarray       # (n, T)


def disaggregate(fleet: Fleet, p_ch_mw: np.ndarray, p_dis_mw: np.ndarray | None = None) -> Disaggregation:
    steps = fleet.steps
    p_dis_mw = np.zeros(steps) if p_dis_mw is None else np.asarray(p_dis_mw)
    sum_ch, sum_dis = cp.Variable(steps), cp.Variable(steps)
    unmet = cp.Variable(nonneg=True)
    region = station_region("individual", fleet, sum_ch, sum_dis if fleet.v2g else None, short=unmet)
    scale = max(np.abs(p_ch_mw).max(), np.abs(p_dis_mw).max(), 1e-9)
    # the norm, not its square, relative to the peak: the solver's tolerance then bounds the residual itself
    # (a squared error solved to 1e-8 leaves residuals of 1e-4)
    error = cp.norm(cp.hstack([sum_ch - p_ch_mw, sum_dis - p_dis_mw]), 2) / scale
    sets = region.constraints + ([] if fleet.v2g else [sum_dis == 0])
    solve_conic(cp.Problem(cp.Minimize(error), sets), "disaggregation (tracking)")
    peak = max(np.abs(p_ch_mw - p_dis_mw).max(), 1e-12)
    residual = (sum_ch.value - sum_dis.value) - (p_ch_mw - p_dis_mw)
    room = ROOM * scale
    band_ch = np.abs(sum_ch.value - p_ch_mw) + room
    band_dis = np.abs(sum_dis.value - p_dis_mw) + room
    solve_conic(cp.Problem(cp.Minimize(unmet), sets + [cp.abs(sum_ch - p_ch_mw) <= band_ch,
                                                      cp.abs(sum_dis - p_dis_mw) <= band_dis]),
                "disaggregation (energy)")
    return Disaggregation(tracking_nrmse=float(np.sqrt(np.mean(residual ** 2)) / peak),
                          unmet_energy_mwh=float(unmet.value),
                          charge_mw=np.asarray(region.ev_charge.value),
                          discharge_mw=(np.asarray(region.ev_discharge.value) if region.ev_discharge is not None
                                        else np.zeros((fleet.n, steps))))
