"""`stochplan strategies CASE`: uncoordinated, smart, V2G and reactive-support charging of every EV on the
case's first day, each checked by an AC power flow (pandapower) at every step.

- uncoordinated: every EV charges at full power from plug-in until its target (grid-blind);
- smart: unidirectional, grid-constrained, charging-time objective (formulations/charging.py);
- v2g: the same with discharging allowed;
- smart+q, v2g+q: the same with 4-quadrant chargers (reactive power within the station's kVA).
Voltages, loadings and violations come from the AC power flow for every strategy, so the grid-blind one
is judged like the others. report/strategies.py writes strategies.csv, voltage_bands.png and fleet_soc.png.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ..errors import InputError
from ..ev.fleet import fleet_of
from ..formulations.charging import soc_of, solve_charging
from ..instance import Instance
from .validation import ACFeeder, violations

log = logging.getLogger(__name__)

STRATEGIES = {             # name: (V2G, reactive support); None = uncoordinated
    "uncoordinated": None, "smart": (False, False), "v2g": (True, False),
    "smart+q": (False, True), "v2g+q": (True, True),
}
SOC_GOAL = 0.9          # hours_to_mean_soc_90: when the fleet's mean SOC first reaches this


@dataclass
class StrategyRuns:
    """What the strategies study found on one day."""
    table: pd.DataFrame             # one row per strategy (strategies.csv)
    bands: dict[str, np.ndarray]    # strategy → (buses × T) AC voltages [pu], the substation left out
    socs: dict[str, np.ndarray]     # strategy → (T + 1,) mean fleet SOC
    day: object                     # the day (scenarios.Day)
    soc_goal: float = SOC_GOAL


def run_strategies(inst: Instance) -> StrategyRuns:
    case, day = inst.case, inst.days[0]
    if case.ev.controllable_share < 1.0:
        raise InputError("ev.controllable_share", "the strategies study schedules every EV; set it to 1.0")
    if not inst.ref.station_bus.size:
        raise InputError("chargers.stations", "the strategies study needs EV stations")
    sessions = day.ev.sessions
    capacity = np.array([len(s) * case.ev.charger_kw / 1000.0 for s in sessions])
    rows, bands, socs = [], {}, {}
    feeder = ACFeeder(inst)
    for name, mode in STRATEGIES.items():
        v2g = bool(mode and mode[0])
        # The optimised strategies pursue the target through their objective; a hard energy requirement would
        # make a grid-limited day infeasible instead of slower.
        fleets = [fleet_of(s if mode is None else replace(s, e_required_mwh=np.zeros(len(s))), day.steps,
                           day.dt_h, case.ev.efficiency, v2g) for s in sessions]
        if mode is None:
            charge = [f.uncoordinated() for f in fleets]
            p_ev = np.array([c.sum(0) for c in charge])
            q_ev = np.zeros_like(p_ev)
            gained = [np.cumsum(c * f.efficiency * f.dt_h, axis=1) for c, f in zip(charge, fleets)]
            soc = soc_of(fleets, gained)
        else:
            log.info("strategy %s: solving %d EVs × %d steps", name, sum(f.n for f in fleets), day.steps)
            res = solve_charging(inst.ref, day, fleets, capacity, case.ev.target_soc, reactive_support=mode[1])
            p_ev, q_ev, soc = res.charge_mw - res.discharge_mw, res.q_mvar, res.soc
        rows.append(_assess(inst, feeder, day, name, p_ev, q_ev, soc, bands))
        socs[name] = soc.mean(0)
        rows[-1]["v2g_discharge_mwh"] = float(np.clip(-p_ev, 0, None).sum() * day.dt_h)
    return StrategyRuns(pd.DataFrame(rows), bands, socs, day)


def _assess(inst, feeder, day, name, p_ev, q_ev, soc, bands) -> dict:
    ref = inst.ref
    net_p = day.load_p_mw.copy()
    net_q = day.load_q_mvar.copy()
    np.add.at(net_p, inst.ref.station_bus, p_ev)
    np.add.at(net_q, inst.ref.station_bus, q_ev)
    v = np.full((ref.n_bus, day.steps), np.nan)
    loading = np.full(day.steps, np.nan)
    bad = 0
    for t, result in enumerate(feeder.steps(net_p, net_q)):
        if result is None:
            bad += 1
            continue
        v[:, t], loading[t] = result[0], result[1].max()
        bad += violations(ref, result[0], np.zeros(0)) > 0
    bands[name] = v[1:]
    mean_soc = soc.mean(0)
    reached = np.flatnonzero(mean_soc >= SOC_GOAL)
    return {"strategy": name, "min_voltage_pu": float(np.nanmin(v[1:])), "max_line_loading": float(np.nanmax(loading)),
            "voltage_violation_steps": int(bad), "final_mean_soc": float(mean_soc[-1]),
            "hours_to_mean_soc_90": float(reached[0] * day.dt_h) if reached.size else float("nan")}
