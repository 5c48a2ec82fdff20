"""Command line: `stochplan plan [CASE.toml] [--out DIR] [--method benders|ef] [--tol] [--max-iter] [--time-limit]`.

Exit codes: 0 done, 2 bad input (one line naming the field, before any solve), 3 solver failure
(with the solver's status), 1 Benders stopped before reaching the tolerance.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .errors import InputError, SolverError

log = logging.getLogger("stochplan")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stochplan", description="Storage and EV-charging planning on radial "
                                     "feeders: two-stage stochastic SOCP, Benders decomposition.")
    sub = parser.add_subparsers(dest="command", required=True)
    plan = sub.add_parser("plan", help="plan storage and chargers for a case")
    plan.add_argument("case", nargs="?", help="case file (TOML); default scenarios/ieee33.toml")
    plan.add_argument("--out", help="output directory (default results/<case name>)")
    plan.add_argument("--method", choices=("benders", "ef"), default="benders",
                      help="Benders decomposition or the extensive form (siting relaxed unless fixed)")
    plan.add_argument("--tol", type=float, help="relative Benders gap to stop at (default from case, 1e-4)")
    plan.add_argument("--max-iter", type=int, help="Benders iteration cap")
    plan.add_argument("--time-limit", type=float, help="Benders time limit [s]")
    plan.add_argument("-q", "--quiet", action="store_true", help="log warnings only")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr, force=True)
    logging.getLogger("pyomo").setLevel(logging.WARNING)
    try:
        return _plan(args)
    except InputError as exc:
        print(f"stochplan: error: {exc}", file=sys.stderr)
        return 2
    except SolverError as exc:
        print(f"stochplan: solver failure: {exc}", file=sys.stderr)
        return 3


def _plan(args) -> int:
    from .config import default_case_path, load_case

    if args.tol is not None and not args.tol > 0:
        raise InputError("--tol", f"must be > 0, got {args.tol}")
    if args.max_iter is not None and args.max_iter < 1:
        raise InputError("--max-iter", f"must be ≥ 1, got {args.max_iter}")
    if args.time_limit is not None and not args.time_limit > 0:
        raise InputError("--time-limit", f"must be > 0, got {args.time_limit}")
    case = load_case(args.case or default_case_path())

    # Everything below the imports of the heavy stack; input is fully checked before the first solve.
    from .instance import build_instance
    from .report.results import write_results
    from .solvers import conic

    inst = build_instance(case)
    out = Path(args.out) if args.out else Path("results") / case.name
    log.info("case '%s': %d buses, %d days × %d steps, %d storage candidates, %d charger stations → %s",
             case.name, inst.ref.n_bus, len(inst.days), case.time.steps_per_day, len(inst.storage_bus),
             len(inst.station_bus), out)
    if args.method == "ef":
        from .formulations.extensive import solve_extensive
        if inst.first.siting == "binary":
            log.warning("extensive form: Clarabel has no integers, so storage siting is relaxed to 0 ≤ y ≤ 1")
        res = solve_extensive(inst)
    else:
        from .decomposition import solve_benders
        res = solve_benders(inst, tol=args.tol, max_iter=args.max_iter, time_limit_s=args.time_limit)
    doc = write_results(inst, res, out, retries=conic.retry_count)
    obj = doc["objective"]
    log.info("total %.2f EUR/year (investment %.2f, operation %.2f, penalty %.2f); wrote %s",
             obj["total"], obj["investment"], obj["operation"], obj["penalty"], out)
    for s in doc["storage"]:
        log.info("  storage at bus %d: %.3f MWh, %.3f MW", s["bus"], s["energy_mwh"], s["power_mw"])
    for c in doc["chargers"]:
        log.info("  chargers at bus %d: %.3f MW", c["bus"], c["capacity_mw"])
    if not res.converged:
        log.warning("Benders stopped (%s) at gap %.2e above the tolerance; results are the best plan found",
                    res.stop_reason, res.gap)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
