"""`stochplan ev-aggregation`: how faithful is each station region as the fleet grows?

For each session population (ev/sessions.py: `cigre` homogeneous overnight, `mixed` heterogeneous) and
fleet size, seeded sessions of the case's EVs (all controllable) at one station; the station
buys its charging at the case's hourly prices times a seeded U(0, 2) factor (flat tariff blocks would
leave many optimal schedules and hide the regions' differences) under a charger capacity of 60 % of its
EVs' summed charger power:
    min Σ_t c_t Δt (P_ch,t − P_dis,t) + 10 max(c) · short   s.t. (P_ch, P_dis) in the region,  P_ch + P_dis ≤ C.
The aggregate schedule of each region is then split into EV schedules (ev/disaggregation.py): tracking
nRMSE and unmet energy say whether the EVs could have followed it. `individual` is exact by construction. report/aggregation.py writes aggregation.csv and aggregation.png.
"""
from __future__ import annotations

import logging
import time

import cvxpy as cp
import numpy as np
import pandas as pd
from tqdm import tqdm

from ..config import Case
from ..ev.disaggregation import disaggregate
from ..ev.fleet import fleet_of
from ..ev.regions import KINDS, station_region
from ..ev.sessions import sample_sessions
from ..solvers import solve_conic

log = logging.getLogger(__name__)

CAPACITY_SHARE = 0.6        # charger capacity C as a share of the EVs' summed charger power
PRICE_NOISE = 1.0          # prices c_t = hourly tariff × U(0, 2): a market-like hourly signal
UNMET_COST_FACTOR = 10.0   # energy left undelivered costs 10× the day's highest price: delivered if at all possible


def run_aggregation(case: Case, sizes: list[int], populations=("cigre", "mixed"),
                    progress: bool = True) -> pd.DataFrame:
    """One row per session population × fleet size × region: tracking error, unmet energy, times."""
    ev, steps = case.ev, case.time.steps_per_day
    dt = 24.0 / steps
    clock = (case.time.horizon_start_h + dt * np.arange(steps)) % 24
    hourly = np.resize(np.asarray(case.prices.buy_eur_per_mwh, dtype=float), 24)
    rows = []
    bar = tqdm(total=len(populations) * len(sizes) * len(KINDS), desc="fleets × regions", unit="solve",
               disable=not progress)
    for population, n in ((pop, n) for pop in populations for n in sizes):
        rng = np.random.default_rng([case.scenarios.seed, n])
        sessions = sample_sessions(n, rng, horizon_start_h=case.time.horizon_start_h, horizon_h=24.0,
                                   battery_kwh=ev.battery_kwh, charger_kw=ev.charger_kw, efficiency=ev.efficiency,
                                   target_soc=ev.target_soc, controllable_share=1.0, soc_min=ev.soc_min,
                                   population=population)
        fleet = fleet_of(sessions, steps, dt, ev.efficiency, ev.v2g)
        prices = hourly[clock.astype(int)] * rng.uniform(1 - PRICE_NOISE, 1 + PRICE_NOISE, steps)
        capacity = CAPACITY_SHARE * sessions.p_max_mw.sum()
        for kind in KINDS:
            t0 = time.perf_counter()
            p_ch, p_dis = cp.Variable(steps, nonneg=True), cp.Variable(steps, nonneg=True)
            short = cp.Variable(nonneg=True)
            region = station_region(kind, fleet, p_ch, p_dis if ev.v2g else None, short=short)
            cost = dt * prices @ (p_ch - p_dis) + UNMET_COST_FACTOR * prices.max() * short
            problem = cp.Problem(cp.Minimize(1e-3 * cost), region.constraints
                                 + [p_ch + p_dis <= capacity] + ([] if ev.v2g else [p_dis == 0]))
            problem.get_problem_data(cp.CLARABEL)        # compile once here so build_s includes it
            build_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            solve_conic(problem, f"{kind} region, {n} EVs")
            solve_s = time.perf_counter() - t0
            split = disaggregate(fleet, p_ch.value, p_dis.value if ev.v2g else None)
            rows.append({"model": kind, "n_evs": n, "sessions": population, "tracking_nrmse": split.tracking_nrmse,
                         "unmet_energy_mwh": split.unmet_energy_mwh, "build_s": build_s, "solve_s": solve_s,
                         "cost_eur": float(problem.value) * 1e3, "planned_unmet_mwh": float(short.value)})
            bar.update()
    bar.close()
    return pd.DataFrame(rows)
