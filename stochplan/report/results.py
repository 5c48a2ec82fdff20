"""Write a plan's results: results.json, convergence.csv, dispatch tables and a convergence plot.

Everything is written into the output directory's staging folder and moved into place at the end
(outdir.OutputDir.publish), so a failed or stopped run never leaves a half-written output directory.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..instance import Instance
from ..outdir import OutputDir
from ..result import BUILT, PlanResult, dumps, yearly


def summarise(inst: Instance, res: PlanResult, retries: int = 0) -> dict:
    """The results.json document (engineering units in the key names)."""
    fs = inst.first
    year = yearly(inst, res.solutions)
    parts = year["operation_eur"]
    e, p, c = fs.split(res.x)
    doc = {
        "case": inst.case.name,
        "case_file": str(Path(inst.case.path).resolve()),
        "method": res.method,
        "objective": {
            "total": res.investment_eur + sum(parts.values()),
            "investment": res.investment_eur,
            "operation": parts["energy"] + parts["carbon"] + parts["balance"],
            "penalty": parts["penalty"],
            "parts": parts,
            "currency": "EUR/year",
        },
        "storage": [{"bus": int(b), "energy_mwh": float(ei), "power_mw": float(pi)}
                    for b, ei, pi in zip(fs.storage_buses, e, p) if ei > BUILT or pi > BUILT],
        "chargers": [{"bus": int(b), "capacity_mw": float(ci)} for b, ci in zip(fs.station_buses, c) if ci > BUILT],
        "built_threshold": residue(fs, res.x, res.y),
        "scenarios": [{"day": d.day, "weight": d.weight} for d in inst.days],
        "metrics": {
            "max_relaxation_gap": max((s.relaxation_gap for s in res.solutions), default=0.0),
            "pv_utilisation": year["pv_utilisation"],
            "carbon_t_per_year": year["carbon_t_per_year"],
            "load_shed_mwh_per_year": year["load_shed_mwh_per_year"],
            "ev_unmet_mwh_per_year": year["ev_unmet_mwh_per_year"],
            "min_voltage_pu": year["min_voltage_pu"],
            "max_line_loading": year["peak_line_loading"],
            "solver_retries": retries,
        },
        "model": {"formulation": inst.case.model.formulation, "storage_model": inst.case.model.storage_model,
                  "siting": fs.siting, "capacity_floor": inst.case.model.capacity_floor},
        "timings_s": res.timings,
    }
    bounds = {"lower_bound": res.lower_bound, "upper_bound": res.upper_bound, "gap": res.gap,
              "converged": res.converged, "stop_reason": res.stop_reason}
    if res.method == "benders":
        doc["benders"] = {"iterations": res.history[-1].iteration if res.history else 0,
                          "plans_priced": res.plans_priced, **bounds, "warm_start": res.warm_start}
        if res.siting_bounds is not None:
            doc["benders"]["siting_bounds"] = res.siting_bounds
        # the model as stated at the final plan: its exact cost against the bounds the loop priced (README, The model)
        doc["exactness"] = res.exactness
    else:
        doc["extensive_form"] = {**bounds, "nodes": res.timings.get("nodes", 1)}
    return doc


def residue(fs, x: np.ndarray, y: np.ndarray) -> dict:
    """Sizes below the BUILT threshold (not listed as built) and what they cost per year."""
    k = fs.n_storage
    site_built = (x[:k] > BUILT) | (x[k:2 * k] > BUILT)
    hidden = np.concatenate([~site_built, ~site_built, x[2 * k:] <= BUILT]) & (x > 0)
    return {"mwh_or_mw": BUILT, "unlisted_max": float(x[hidden].max(initial=0.0)),
            "unlisted_investment_eur_per_year": float(fs.cost_x[hidden] @ x[hidden] + fs.cost_y[~site_built]
                                                      @ y[~site_built])}


def convergence_table(res: PlanResult) -> pd.DataFrame:
    return pd.DataFrame([{"iteration": h.iteration, "phase": h.phase, "lower_bound": h.lower_bound,
                          "upper_bound": h.upper_bound, "gap": h.gap, "master_s": h.master_s,
                          "subproblems_s": h.subproblems_s} for h in res.history],
                        columns=["iteration", "lower_bound", "upper_bound", "gap", "master_s", "subproblems_s",
                                 "phase"])


def dispatch_tables(inst: Instance, res: PlanResult) -> dict[str, pd.DataFrame]:
    """Long tables, one row per day × step (× element), engineering units."""
    ref, grid, devices, buses = inst.ref, [], [], []
    for day, sol in zip(inst.days, res.solutions):
        d, steps = sol.dispatch, np.arange(day.steps)
        grid.append(pd.DataFrame({"day": day.day, "step": steps, "clock_h": day.clock_h,
                                  "import_mw": d["import_mw"], "export_mw": d["export_mw"],
                                  "pv_used_mw": d["pv_mw"].sum(0), "pv_available_mw": d["pv_avail_mw"].sum(0),
                                  "load_mw": day.load_p_mw.sum(0), "shed_mw": d["shed_mw"].sum(0),
                                  "buy_eur_per_mwh": day.buy_eur_per_mwh,
                                  "carbon_t_per_mwh": day.carbon_t_per_mwh}))
        for kind, idx, power, energy, to_grid in (
                ("storage", inst.ref.storage_bus, d["storage_p_mw"], d["storage_e_mwh"], None),
                ("ev_station", inst.ref.station_bus, d["ev_p_mw"], None, d["ev_discharge_mw"])):
            for j, bus in enumerate(idx):
                devices.append(pd.DataFrame({"day": day.day, "step": steps, "clock_h": day.clock_h, "kind": kind,
                                             "bus": int(ref.bus_ids[bus]), "p_mw": power[j],
                                             "e_mwh": energy[j, 1:] if energy is not None else np.nan,
                                             "v2g_mw": to_grid[j] if to_grid is not None else np.nan}))
        buses.append(pd.DataFrame({"day": day.day, "step": np.repeat(steps, ref.n_bus),
                                   "bus": np.tile(ref.bus_ids, day.steps), "v_pu": d["v_pu"].T.reshape(-1)}))
    return {"dispatch_grid.csv": pd.concat(grid), "dispatch_devices.csv": pd.concat(devices) if devices else
            pd.DataFrame(columns=["day", "step", "clock_h", "kind", "bus", "p_mw", "e_mwh", "v2g_mw"]),
            "voltages.csv": pd.concat(buses)}


def write_results(inst: Instance, res: PlanResult, out: OutputDir, retries: int = 0,
                  validation: pd.DataFrame | None = None, econ: dict | None = None, helper: bool = False,
                  drawn: dict[str, bytes] | None = None) -> dict:
    """Write everything into the owned directory `out`, whole or not at all. → the results.json document.
    `drawn`: figures already drawn (PNG bytes by file name: by Benders' ranks, workflows/final.py); the others
    are drawn here, half of them by a forked helper process meanwhile with `helper` (parallel/helper.py): on the
    default case the files take ~0.75 instead of ~1.2 s."""
    doc = summarise(inst, res, retries)
    if validation is not None:
        from .validation import summary
        doc["metrics"].update(summary(validation))
    if econ is not None:
        from .economics import summary_markdown
        doc["economics"] = econ
        doc["metrics"].update(carbon_reduction_percent=econ["carbon_reduction_percent"],
                              pv_utilisation_baseline=econ["baseline"]["pv_utilisation"],
                              peak_line_loading_baseline=econ["baseline"]["peak_line_loading"],
                              min_voltage_pu_baseline=econ["baseline"]["min_voltage_pu"])
    from ..parallel.helper import alongside
    from .plots import plot_all, plot_names, pyplot

    drawn = drawn or {}
    pyplot()                            # matplotlib imported once, before a helper is forked
    figures = [name for name in plot_names(inst, res.method) if name not in drawn]
    beside = helper and len(figures) > 1   # every other one to the helper: about half of the drawing time each
    with out.publish() as tmp, alongside(lambda: plot_all(inst, res, tmp, figures[::2]), beside):
        for name, png in drawn.items():
            (tmp / name).write_bytes(png)
        if econ is not None:
            (tmp / "summary.md").write_text(summary_markdown(inst.case.name, doc, econ))
        if validation is not None:
            validation.to_csv(tmp / "validation.csv", index=False, float_format="%.6g")
        (tmp / "results.json").write_text(dumps(doc, indent=2) + "\n")
        convergence_table(res).to_csv(tmp / "convergence.csv", index=False)
        for name, table in dispatch_tables(inst, res).items():
            table.to_csv(tmp / name, index=False, float_format="%.6g")
        plot_all(inst, res, tmp, figures[1::2])
    return doc

