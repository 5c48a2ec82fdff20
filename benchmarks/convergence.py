"""Benders against the exact extensive form, measured side by side in one run.

For each case (optionally with its own K: `CASE.toml:K`), the exact EF (branch-and-bound over the sites,
where it solves) and Benders with each stabilisation; then, with --command, the whole `stochplan plan`
command with the case's own settings. Prints one table (and writes it as CSV with --csv):

    case, K, method, iterations, plans priced, gap, objective EUR/yr, algorithm s, master s, command s,
    ratio to the EF

    python benchmarks/convergence.py [CASE[:K] ...]
                                     [--stabilisations level,interior-level,trust-region,in-out,none,case]
                                     [--warm-starts 0,2] [--points 1,4] [--tol 1e-4] [--max-iter 150] [--no-ef]
                                     [--command]
                                     [--workers 2] [--ranks 2] [--csv FILE]

Benders rows are labelled with their warm start (`w2`: benders.warm_start_days = 2, `w0`: none; `w2+1%`: and the
other sitings within benders.warm_start_within = 0.01, the case's own margin) and, above one,
their plans a round (`p4`: benders.points_per_round = 4; then `iters` are rounds and `plans` the plans priced);
`--warm-starts` and `--points` run each stabilisation with each of the given values instead of the case's own.

Times are wall seconds on this machine (Clarabel single-threaded); the EF and the in-process Benders rows run in
one process (with `--workers W` the EF also on W forked workers, its nodes after the root W at a time),
`--command` runs the whole command in one process (`--workers 1`), `--workers W` rows run it plain on W forked
processes (parallel/workers.py, the default of a plain run on W cores), `--ranks R` rows under `mpiexec -n R`;
these take the Benders figures from results.json. Every ratio is to the EF on as many cores where it was measured
(W workers for the W-worker and R-rank rows when W = R), else to the one-process EF. `algorithm s` is the EF's
solve and Benders' iterations (`timings_s.loop_s`: masters and pricing, not the final plan's exact solve, AC check
and baseline, which `cmd s` includes); it excludes building the instance (profiles, reduction), which both
methods share.
"""
from __future__ import annotations

import argparse
import itertools
import json
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from stochplan.config import default_case_path, load_case
from stochplan.decomposition import solve_benders
from stochplan.decomposition.stabilisation import KINDS
from stochplan.errors import SolverError
from stochplan.formulations.extensive import solve_extensive
from stochplan.instance import build_instance
from stochplan.parallel.workers import WorkerComm


def run_case(spec: str, args) -> list[dict]:
    path, _, k = spec.partition(":")
    case = load_case(path)
    k = int(k) if k else None
    inst = build_instance(case, k=k)
    label = dict(case=case.name, K=len(inst.days))
    rows, ef_s = [], {}                      # the EF's seconds on 1 process and on each W of --workers
    for cores in ([] if args.no_ef else [1] + args.workers):
        t0 = time.perf_counter()
        try:
            ef = solve_extensive(inst, comm=WorkerComm(cores) if cores > 1 else None)
            ef_s[cores] = time.perf_counter() - t0
            on = f", {cores} workers" if cores > 1 else ""
            rows.append({**label, "method": f"EF ({ef.timings['nodes']} nodes{on})", "iterations": None,
                         "gap": 0.0, "objective": ef.upper_bound, "algorithm_s": ef_s[cores], "master_s": None,
                         "ratio_to_ef": ef_s[cores] / ef_s[1] if cores > 1 else None})
        except SolverError as exc:
            rows.append({**label, "method": "EF", "iterations": None, "gap": None, "objective": None,
                         "algorithm_s": time.perf_counter() - t0, "master_s": None, "note": str(exc)})
        print(_line(rows[-1]), flush=True)
    kinds = [case.benders.stabilisation if kind == "case" else kind for kind in args.stabilisations.split(",")]
    for kind, warm, points in itertools.product(kinds,
                                                args.warm_starts or [case.benders.warm_start_days],
                                                args.points or [case.benders.points_per_round]):
        res = solve_benders(inst, tol=args.tol, max_iter=args.max_iter, stabilisation=kind, warm_start_days=warm,
                            points_per_round=points)
        seconds = res.timings["loop_s"]      # the iterations, as in the command rows (not the final exact solve)
        rows.append({**label, "method": f"benders {kind} {_warm(warm, case.benders.warm_start_within)}"
                                       f"{_points(points)}",
                     "iterations": res.history[-1].iteration, "plans": res.plans_priced,
                     "gap": res.gap,
                     "objective": res.exactness.get("total_eur"), "algorithm_s": seconds,
                     "master_s": res.timings["master_s"], "ratio_to_ef": seconds / ef_s[1] if 1 in ef_s else None,
                     "note": "" if res.converged else f"stopped: {res.stop_reason}"})
        print(_line(rows[-1]), flush=True)
    runs = [(1, 1)] if args.command else []
    runs += [(1, w) for w in args.workers] + [(r, None) for r in args.ranks]
    for ranks, workers in runs:
        cores = ranks if ranks > 1 else workers       # against the EF on as many cores, where it was measured
        rows.append({**label, **command_row(path, k, ranks, workers, case.benders,
                                            ef_s.get(cores, ef_s.get(1)))})
        print(_line(rows[-1]), flush=True)
    return rows


def command_row(path: str, k: int | None, ranks: int, workers: int | None, benders, ef_s: float | None) -> dict:
    """The whole `stochplan plan` command on `ranks` MPI processes or, plain, on `workers` processes; its Benders
    figures from results.json."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        cmd = [sys.executable, "-m", "stochplan", "plan", path, "--out", str(out), "-q", "--method", "benders"]
        cmd = (["mpiexec", "-n", str(ranks)] if ranks > 1 else []) + cmd + (["--k", str(k)] if k else []) \
            + (["--workers", str(workers)] if workers else [])
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        command_s = time.perf_counter() - t0
        how = f"{ranks} ranks" if ranks > 1 else "1 process" if workers == 1 else f"{workers} workers"
        warm = _warm(benders.warm_start_days, benders.warm_start_within)
        row = {"method": f"plan, {how} ({benders.stabilisation} {warm}"
                         f"{_points(benders.points_per_round)})",
               "command_s": command_s, "note": f"exit {proc.returncode}"}
        if (out / "results.json").exists():
            res = json.loads((out / "results.json").read_text())
            seconds = res["timings_s"]["loop_s"]        # the iterations; the final day tasks are in cmd s
            row.update(iterations=res["benders"]["iterations"], plans=res["benders"]["plans_priced"],
                       gap=res["benders"]["gap"],
                       objective=res["objective"]["total"], algorithm_s=seconds,
                       master_s=res["timings_s"]["master_s"], ratio_to_ef=seconds / ef_s if ef_s else None)
    return row


def _warm(days: int, within: float) -> str:
    """`w2`, or `w2+1%` with other sitings within a margin (no margin without a warm start)."""
    return f"w{days}" + (f"+{100 * within:g}%" if days and within else "")


def _points(points: int) -> str:
    return f" p{points}" if points > 1 else ""


def _line(row: dict) -> str:
    fmt = lambda v, f: "-" if v is None or v != v else format(v, f)  # noqa: E731
    return (f"{row['case']:<14}{row['K']:>4}  {row['method']:<37}{fmt(row.get('iterations'), 'd'):>6}"
            f"{fmt(row.get('plans'), 'd'):>6}"
            f"{fmt(row.get('gap'), '.1e'):>9}{fmt(row.get('objective'), ',.2f'):>16}{fmt(row.get('algorithm_s'), '.1f'):>9}"
            f"{fmt(row.get('master_s'), '.1f'):>8}{fmt(row.get('command_s'), '.1f'):>9}"
            f"{fmt(row.get('ratio_to_ef'), '.2f'):>8}  {row.get('note', '')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("cases", nargs="*", help="CASE.toml or CASE.toml:K (default: the default case)")
    parser.add_argument("--stabilisations", default=",".join(KINDS),
                        help="comma-separated benders.stabilisation values; `case`: each case's own")
    parser.add_argument("--warm-starts", type=lambda v: [int(m) for m in v.split(",")], default=[],
                        help="benders.warm_start_days values to run each stabilisation with (default: the case's)")
    parser.add_argument("--points", type=lambda v: [int(p) for p in v.split(",")], default=[],
                        help="benders.points_per_round values to run each stabilisation with (default: the case's)")
    parser.add_argument("--tol", type=float, default=1e-4)
    parser.add_argument("--max-iter", type=int, default=150)
    parser.add_argument("--no-ef", action="store_true", help="skip the exact extensive form")
    parser.add_argument("--command", action="store_true", help="also time the whole `stochplan plan` command")
    parser.add_argument("--workers", type=lambda v: [int(w) for w in v.split(",")], default=[],
                        help="also run the whole command plain on W forked processes for each W (e.g. 2)")
    parser.add_argument("--ranks", type=lambda v: [int(r) for r in v.split(",")], default=[],
                        help="also run the whole command under `mpiexec -n R` for each R (e.g. 2)")
    parser.add_argument("--csv", help="write the table here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(f"{'case':<14}{'K':>4}  {'method':<37}{'iters':>6}{'plans':>6}{'gap':>9}{'objective EUR/yr':>16}{'alg s':>9}"
          f"{'master':>8}{'cmd s':>9}{'/EF':>8}")
    rows = []
    for spec in args.cases or [str(default_case_path())]:
        rows += run_case(spec, args)
    if args.csv:
        pd.DataFrame(rows).to_csv(args.csv, index=False)


if __name__ == "__main__":
    main()
