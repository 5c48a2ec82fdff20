"""stochplan's Benders against mpi-sppy on the same case, side by side in one run.

    python benchmarks/peers.py [CASE[:K]] [--methods ef,lshaped,ph,benders] [--ph-iters 20] [--ph-rho 1e4]
                               [--csv FILE]

CASE must be one mpi-sppy can take as an LP/MILP (stochplan/interop/mpisppy.py says which options are refused);
default `scenarios/ieee33_lindistflow.toml`. `:K` sets the number of days (scenarios.count of a synthetic case,
scenarios.k of a year case). Methods, one after the other, each on the same instance:
- `ef`: mpi-sppy's extensive form (sputils.create_EF) solved by HiGHS as one MILP (mip_rel_gap 1e-9);
- `lshaped`: mpi-sppy's L-shaped method (multi-cut, no regularisation; HiGHS for root and subproblems);
- `ph`: progressive hedging with linearised proximal terms (HiGHS has no QP in PH's loop), `--ph-iters`
  iterations at ρ = `--ph-rho`; a heuristic, not an exact method: its consensus plan (rounded sites, mean sizes)
  is priced day by day and reported with how far the scenarios still disagree;
- `benders`: the whole `stochplan plan CASE` command (Benders, exact evaluation, AC check, baseline, reports),
  its algorithm time read from results.json.
Times are wall seconds on this machine, one process each; mpi-sppy's include building its Pyomo models, not the
stochplan instance both share (its build time is printed once).
"""
from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import time

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from stochplan.config import load_case
from stochplan.instance import build_instance
from stochplan.interop import mpisppy as sp

DEFAULT = Path(__file__).resolve().parents[1] / "scenarios" / "ieee33_lindistflow.toml"


def write_case(path: Path, k: int | None, folder: Path) -> Path:
    """The case file with K days: a copy in `folder` with scenarios.count (synthetic) or scenarios.k (year) set.
    Paths inside the case are not rewritten, so give K only for cases whose data are built in or absolute."""
    if k is None:
        return path
    text = path.read_text()
    data = tomllib.loads(text)
    key = "count" if data.get("scenarios", {}).get("source", "synthetic") == "synthetic" else "k"
    lines, out, in_scenarios, done = text.splitlines(), [], False, False
    for line in lines:                     # the case file with one key changed (no TOML writer needed)
        stripped = line.strip()
        if stripped.startswith("["):
            if in_scenarios and not done:
                out.append(f"{key} = {k}")
                done = True
            in_scenarios = stripped == "[scenarios]"
        elif in_scenarios and stripped.split("=")[0].strip() == key:
            line, done = f"{key} = {k}", True
        out.append(line)
    if not done:
        out += ([] if in_scenarios else ["[scenarios]"]) + [f"{key} = {k}"]
    target = folder / f"{path.stem}_k{k}.toml"
    target.write_text("\n".join(out) + "\n")
    return target


def run_ef(inst, names) -> dict:
    from mpisppy.utils import sputils

    t0 = time.perf_counter()
    ef = sputils.create_EF(names, sp.scenario_creator, scenario_creator_kwargs={"instance": inst})
    res = sp.solve_highs(ef, mip_rel_gap=1e-9)
    x, y = sp.first_stage_values(getattr(ef, names[0]))
    return {"method": "mpi-sppy EF (HiGHS MILP)", "objective": pyo.value(ef.EF_Obj), "y": y, "x": x,
            "iterations": None, "wall_s": time.perf_counter() - t0, "note": str(res.termination_condition)}


def run_lshaped(inst, names) -> dict:
    from mpisppy.opt.lshaped import LShapedMethod

    t0 = time.perf_counter()
    options = {"root_solver": "highs", "sp_solver": "highs", "root_solver_options": dict(sp.HIGHS_OPTIONS),
               "sp_solver_options": dict(sp.HIGHS_OPTIONS), "max_iter": 500,
               "verbose": False, "valid_eta_lb": {n: 0.0 for n in names}}     # day costs are ≥ 0 EUR/year here
    ls = LShapedMethod(options, names, sp.scenario_creator, sp.scenario_denouement,
                       scenario_creator_kwargs={"instance": inst})
    ls.lshaped_algorithm()
    values = np.array([pyo.value(v) for v in ls.root_vars])
    k = inst.first.n_storage
    return {"method": "mpi-sppy L-shaped", "objective": ls._LShaped_bound, "y": values[:k], "x": values[k:],
            "iterations": ls.iter + 1, "wall_s": time.perf_counter() - t0,
            "note": "bound at the last master (stops when no cut is violated)"}


def run_ph(inst, names, iters: int, rho: float) -> dict:
    from mpisppy.opt.ph import PH

    t0 = time.perf_counter()
    options = {"solver_name": "highs", "PHIterLimit": iters, "defaultPHrho": rho, "convthresh": 1e-6,
               "verbose": False, "display_progress": False, "linearize_proximal_terms": True,
               "proximal_linearization_tolerance": 1e-2, "iter0_solver_options": dict(sp.HIGHS_OPTIONS),
               "iterk_solver_options": dict(sp.HIGHS_OPTIONS)}
    ph = PH(options, names, sp.scenario_creator, sp.scenario_denouement, scenario_creator_kwargs={"instance": inst})
    ph.ph_main()
    plans = [sp.first_stage_values(s) for s in ph.local_scenarios.values()]
    weights = np.array([d.weight for d in inst.days])
    y = np.round(weights @ np.array([p[1] for p in plans]))
    k = inst.first.n_storage
    x = weights @ np.array([p[0] for p in plans])
    x[:2 * k] *= np.concatenate([y, y])                          # no size without its site
    spread = float(np.max(np.ptp(np.array([np.concatenate(p) for p in plans]), axis=0)))
    objective = price(inst, x, y)
    return {"method": f"mpi-sppy PH ({iters} it, ρ {rho:g})", "objective": objective, "y": y, "x": x,
            "iterations": ph._PHIter, "wall_s": time.perf_counter() - t0,
            "note": f"consensus plan priced; scenarios still differ by up to {spread:.3g}"}


def price(inst, x, y) -> float:
    """The plan's expected yearly cost from the Pyomo day models with the first stage fixed."""
    total = 0.0
    for day in inst.days:
        m = sp.day_model(inst, day)
        sp.fix_first_stage(m, x, y)
        sp.solve_highs(m)
        total += day.weight * pyo.value(m.objective)
    return total


def run_benders(case_path: Path) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        cmd = [sys.executable, "-m", "stochplan", "plan", str(case_path), "--out", str(out), "-q",
               "--workers", "1"]                     # one process, as every method here
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t0
        if proc.returncode not in (0, 1):
            raise SystemExit(f"stochplan plan failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
        doc = json.loads((out / "results.json").read_text())
    return {"method": "stochplan plan (Benders, whole command)", "objective": doc["objective"]["total"],
            "sites": ",".join(str(s["bus"]) for s in doc["storage"]), "iterations": doc["benders"]["iterations"],
            "wall_s": wall, "algorithm_s": doc["timings_s"]["total_s"],
            "note": f"gap {doc['benders']['gap']:.1e}; Benders alone {doc['timings_s']['total_s']:.1f} s"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("case", nargs="?", default=str(DEFAULT), help="CASE.toml or CASE.toml:K")
    parser.add_argument("--methods", default="ef,lshaped,ph,benders")
    parser.add_argument("--ph-iters", type=int, default=20)
    parser.add_argument("--ph-rho", type=float, default=1e4)
    parser.add_argument("--csv", help="write the table here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("pyomo").setLevel(logging.ERROR)
    path, _, k = args.case.partition(":")
    with tempfile.TemporaryDirectory() as tmp:
        case_path = write_case(Path(path).resolve(), int(k) if k else None, Path(tmp))
        t0 = time.perf_counter()
        inst = build_instance(load_case(case_path))
        sp.check_supported(inst)
        build_s = time.perf_counter() - t0
        names = sp.scenario_names_creator(len(inst.days))
        print(f"{inst.case.name}: {len(inst.days)} days, {inst.first.n_storage} storage candidates, "
              f"{len(inst.ref.station_bus)} EV stations; stochplan instance built in {build_s:.1f} s")
        rows = []
        for method in args.methods.split(","):
            if method == "ef":
                row = run_ef(inst, names)
            elif method == "lshaped":
                row = run_lshaped(inst, names)
            elif method == "ph":
                row = run_ph(inst, names, args.ph_iters, args.ph_rho)
            elif method == "benders":
                row = run_benders(case_path)
            else:
                raise SystemExit(f"unknown method '{method}'")
            if "sites" not in row:
                row["sites"] = ",".join(str(b) for b, v in zip(inst.first.storage_buses, row.pop("y")) if v > 0.5)
                row.pop("x", None)
            rows.append(row)
            print(_line(row), flush=True)
    table = pd.DataFrame(rows)
    ours = table[table.method.str.startswith("stochplan")]
    if len(ours):
        table["ratio_to_stochplan"] = table.wall_s / float(ours.wall_s.iloc[0])
    print()
    print(table[["method", "objective", "sites", "iterations", "wall_s"] +
                (["ratio_to_stochplan"] if len(ours) else [])].to_string(index=False))
    if args.csv:
        table.to_csv(args.csv, index=False)


def _line(row: dict) -> str:
    its = "-" if row.get("iterations") is None else str(row["iterations"])
    return (f"{row['method']:<42}{row['objective']:>16,.2f}  sites {row['sites']:<12} it {its:>4}  "
            f"{row['wall_s']:8.1f} s  {row.get('note', '')}")


if __name__ == "__main__":
    main()
