"""Split a station's aggregate dispatch into EV schedules: does the aggregate come from schedules the EVs
can actually follow?

    min_{p_i ∈ F_i(u_i)}  Σ_t (Σ_i p_ch,it − P_ch,t)² + (Σ_i p_dis,it − P_dis,t)²  +  ε Σ_i u_i
where F_i(u_i) is EV i's feasible set (fleet.py) with its energy requirement lowered by u_i ≥ 0. Tracking
comes first (ε is tiny): if schedules summing to the aggregate exist, the error is zero (the LP case);
otherwise these are the closest schedules, and u says how much energy the EVs would miss following them.
Reported: tracking nRMSE = RMSE / peak aggregate power, and unmet energy Σ u_i [MWh, battery side].
"""
from __future__ import annotations

from dataclasses import dataclass

import cvxpy as cp
import numpy as np

from ..solvers import solve_conic
from .fleet import Fleet
from .regions import station_region

PREFER_DELIVERY = 1e-3    # ε [MW²h per MWh]: among equally close schedules, deliver the most energy


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
    error = cp.sum_squares(sum_ch - p_ch_mw) + cp.sum_squares(sum_dis - p_dis_mw)
    problem = cp.Problem(cp.Minimize(error + PREFER_DELIVERY * unmet), region.constraints
                         + ([] if fleet.v2g else [sum_dis == 0]))
    solve_conic(problem, "disaggregation")
    peak = max(np.abs(p_ch_mw - p_dis_mw).max(), 1e-12)
    residual = (sum_ch.value - sum_dis.value) - (p_ch_mw - p_dis_mw)
    return Disaggregation(tracking_nrmse=float(np.sqrt(np.mean(residual ** 2)) / peak),
                          unmet_energy_mwh=float(unmet.value),
                          charge_mw=np.asarray(region.ev_charge.value),
                          discharge_mw=(np.asarray(region.ev_discharge.value) if region.ev_discharge is not None
                                        else np.zeros((fleet.n, steps))))
