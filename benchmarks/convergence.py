"""Benders convergence on a case (default: scenarios/ieee33.toml): iterations to the tolerance, total time
and its split — master (HiGHS), subproblem solver (Clarabel), cvxpy parameter substitution and result
read-back, and everything else — measured side by side for the algorithm's options in one run.

    python benchmarks/convergence.py [CASE.toml] [--tol 1e-4] [--variants default,no-stabilisation,lp-phase,single-cut]
"""
from __future__ import annotations

import argparse
import logging
import time

from stochplan.config import default_case_path, load_case
from stochplan.decomposition import solve_benders
from stochplan.instance import build_instance
from stochplan.solvers import conic

VARIANTS = {
    "default": {},
    "no-stabilisation": {"stabilisation": "none"},
    "lp-phase": {"lp_phase": True},
    "single-cut": {"multicut": False},
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("case", nargs="?")
    parser.add_argument("--tol", type=float, default=1e-4)
    parser.add_argument("--max-iter", type=int, default=300)
    parser.add_argument("--variants", default="default,no-stabilisation,lp-phase")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    t0 = time.perf_counter()
    inst = build_instance(load_case(args.case or default_case_path()))
    setup_s = time.perf_counter() - t0
    print(f"case {inst.case.name}: {inst.ref.n_bus} buses, {len(inst.days)} days × {inst.case.time.steps_per_day} "
          f"steps, {inst.first.n_x} continuous + {inst.first.n_storage} binary first-stage variables; "
          f"instance built in {setup_s:.2f} s")
    header = (f"{'variant':<18}{'iters':>6}{'gap':>10}{'total s':>9}{'master':>8}{'solver':>8}{'cvxpy':>8}"
              f"{'other':>8}{'retries':>8}  objective EUR/yr")
    print(header)
    for name in args.variants.split(","):
        retries_before = conic.retry_count
        res = solve_benders(inst, tol=args.tol, max_iter=args.max_iter, **VARIANTS[name])
        t = res.timings
        cvxpy_s = t["subproblems_s"] - t["subproblem_solver_s"]
        other = t["total_s"] - t["master_s"] - t["subproblems_s"]
        share = lambda v: f"{100 * v / t['total_s']:6.1f}%"  # noqa: E731
        print(f"{name:<18}{res.history[-1].iteration:>6}{res.gap:>10.2e}{t['total_s']:>9.1f}"
              f"{share(t['master_s']):>8}{share(t['subproblem_solver_s']):>8}{share(cvxpy_s):>8}{share(other):>8}"
              f"{conic.retry_count - retries_before:>8}  {res.upper_bound:,.0f}"
              + ("" if res.converged else f"  (stopped: {res.stop_reason})"))


if __name__ == "__main__":
    main()
