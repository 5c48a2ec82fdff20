"""`stochplan strategies CASE`: uncoordinated, smart, V2G and reactive-support charging of every EV on the
case's first day, each checked by an AC power flow (pandapower) at every step.

- uncoordinated: every EV charges at full power from plug-in until its target (grid-blind);
- smart: unidirectional, grid-constrained, charging-time objective (formulations/charging.py);
- v2g: the same with discharging allowed;
- smart+q, v2g+q: the same with 4-quadrant chargers (reactive power within the station's kVA).
Voltages, loadings and violations come from the AC power flow for every strategy, so the grid-blind one
is judged like the others. Writes strategies.csv, voltage_bands.png and fleet_soc.png.
"""
from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..ev.fleet import fleet_of
from ..formulations.charging import solve_charging, soc_of
from ..instance import Instance
from .validation import ac_steps, violations

log = logging.getLogger(__name__)

STRATEGIES = {             # name: (V2G, reactive support); None = uncoordinated
    "uncoordinated": None, "smart": (False, False), "v2g": (True, False),
    "smart+q": (False, True), "v2g+q": (True, True),
}
SOC_GOAL = 0.9


def run_strategies(inst: Instance, out) -> pd.DataFrame:
    case, day = inst.case, inst.days[0]
    if case.ev.controllable_share < 1.0:
        raise InputError("ev.controllable_share", "the strategies study schedules every EV; set it to 1.0")
    if not inst.station_bus.size:
        raise InputError("chargers.stations", "the strategies study needs EV stations")
    sessions = day.ev.sessions
    capacity = np.array([len(s) * case.ev.charger_kw / 1000.0 for s in sessions])
    rows, bands, socs = [], {}, {}
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
            res = solve_charging(inst, day, fleets, capacity, case.ev.target_soc, reactive_support=mode[1])
            p_ev, q_ev, soc = res.charge_mw - res.discharge_mw, res.q_mvar, res.soc
        rows.append(_assess(inst, day, name, p_ev, q_ev, soc, bands))
        socs[name] = soc.mean(0)
        rows[-1]["v2g_discharge_mwh"] = float(np.clip(-p_ev, 0, None).sum() * day.dt_h)
    table = pd.DataFrame(rows)
    with out.publish() as tmp:
        table.to_csv(tmp / "strategies.csv", index=False, float_format="%.6g")
        plot_strategies(inst, day, bands, socs, tmp)
    return table


def _assess(inst, day, name, p_ev, q_ev, soc, bands) -> dict:
    ref = inst.ref
    net_p = day.load_p_mw.copy()
    net_q = day.load_q_mvar.copy()
    np.add.at(net_p, inst.station_bus, p_ev)
    np.add.at(net_q, inst.station_bus, q_ev)
    v = np.full((ref.n_bus, day.steps), np.nan)
    loading = np.full(day.steps, np.nan)
    bad = 0
    for t, result in enumerate(ac_steps(inst, net_p, net_q)):
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


def plot_strategies(inst, day, bands: dict, socs: dict, out: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ref, name = inst.ref, inst.case.name
    hours = np.arange(day.steps) * day.dt_h
    start = inst.case.time.horizon_start_h
    fig, axes = plt.subplots(1, len(bands), figsize=(3.2 * len(bands), 3.6), sharey=True)
    for ax, (strategy, v) in zip(np.atleast_1d(axes), bands.items()):
        q = np.nanpercentile(v, [0, 25, 50, 75, 100], axis=0)
        ax.fill_between(hours, q[0], q[4], alpha=0.25, color="tab:blue", label="min–max over buses")
        ax.fill_between(hours, q[1], q[3], alpha=0.45, color="tab:blue", label="25–75 %")
        ax.plot(hours, q[2], color="tab:blue", lw=1, label="median")
        for limit in (ref.v_min_pu, ref.v_max_pu):
            ax.axhline(limit, color="tab:red", ls="--", lw=0.8)
        ax.set_title(strategy)
        ax.set_xlabel(f"hours from {start:g}:00")
    np.atleast_1d(axes)[0].set_ylabel("voltage [pu] (AC power flow)")
    np.atleast_1d(axes)[0].legend(fontsize=7, loc="lower left")
    fig.suptitle(f"Voltage across buses by charging strategy — {name}, day {day.day} (limits dashed)")
    fig.tight_layout()
    fig.savefig(out / "voltage_bands.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4))
    edges = np.arange(day.steps + 1) * day.dt_h
    for strategy, mean_soc in socs.items():
        ax.plot(edges, 100 * mean_soc, label=strategy, ls="--" if strategy.endswith("+q") else "-")
    ax.axhline(100 * SOC_GOAL, color="grey", lw=0.8, ls=":")
    ax.set(xlabel=f"hours from {start:g}:00", ylabel="mean fleet SOC [%]",
           title=f"Mean SOC of all EVs by charging strategy — {name}, day {day.day}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "fleet_soc.png", dpi=110)
    plt.close(fig)
