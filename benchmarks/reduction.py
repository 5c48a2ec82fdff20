"""Scenario reduction against out-of-sample cost: for each K, the reduction error, Benders iterations,
the plan, and the out-of-sample gap over every day of the year.

    python benchmarks/reduction.py [CASE.toml] [--ks 5,10,20,50] [--ranks 2]

Each K runs `stochplan reduce`, `stochplan plan --k K` and `stochplan evaluate` (under mpiexec when
--ranks > 1; the answers do not depend on the rank count).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stochplan.config import default_case_path


def run(cmd: list[str], ranks: int) -> float:
    full = [sys.executable, "-m", "stochplan"] + cmd
    if ranks > 1:
        full = [str(Path(sys.executable).parent / "mpiexec"), "-n", str(ranks)] + full
    t0 = time.perf_counter()
    proc = subprocess.run(full, capture_output=True, text=True)
    if proc.returncode not in (0, 1):
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("case", nargs="?")
    parser.add_argument("--ks", default="5,10,20,50")
    parser.add_argument("--ranks", type=int, default=2)
    args = parser.parse_args()
    case = str(args.case or default_case_path())
    work = Path(tempfile.mkdtemp(prefix="stochplan-reduction-"))
    rows = []
    for k in (int(v) for v in args.ks.split(",")):
        red, plan, ev = work / f"k{k}-reduce", work / f"k{k}-plan", work / f"k{k}-evaluate"
        run(["reduce", case, "--k", str(k), "--out", str(red), "-q"], 1)
        plan_s = run(["plan", case, "--k", str(k), "--out", str(plan), "-q"], args.ranks)
        eval_s = run(["evaluate", case, "--plan", str(plan / "results.json"), "--out", str(ev), "-q"], args.ranks)
        r = json.loads((red / "reduction.json").read_text())
        p = json.loads((plan / "results.json").read_text())
        e = json.loads((ev / "evaluation.json").read_text())
        storage = " ".join(f"{s['bus']}:{s['energy_mwh']:.2f}/{s['power_mw']:.2f}" for s in p["storage"]) or "-"
        chargers = sum(c["capacity_mw"] for c in p["chargers"])
        rows.append((k, r["mean_distance_to_medoid"], r["max_distance_to_medoid"], p["benders"]["iterations"],
                     p["benders"]["gap"], storage, chargers, e["in_sample_cost"], e["out_of_sample_cost"],
                     e["gap_percent"], plan_s, eval_s))
    print(f"case {case}; {args.ranks} rank(s); outputs in {work}")
    print(f"{'K':>3} {'mean d':>7} {'max d':>6} {'iters':>5} {'gap':>8}  {'storage bus:MWh/MW':<24} {'EV MW':>6} "
          f"{'in-sample EUR/yr':>17} {'out-of-sample':>14} {'OOS gap %':>9} {'plan s':>7} {'eval s':>7}")
    for k, md, xd, it, g, st, ch, ins, oos, gp, ps, es in rows:
        print(f"{k:>3} {md:>7.3f} {xd:>6.3f} {it:>5} {g:>8.1e}  {st:<24} {ch:>6.3f} {ins:>17,.0f} {oos:>14,.0f} "
              f"{gp:>9.3f} {ps:>7.1f} {es:>7.1f}")


if __name__ == "__main__":
    main()
