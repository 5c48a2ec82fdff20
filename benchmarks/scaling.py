"""Parallel scaling of Benders: the same run with 1 and 2 MPI ranks, measured side by side in one run.

    python benchmarks/scaling.py [CASE.toml] [--k 20] [--max-iter 12] [--ranks 1,2]

The case (default scenarios/ieee33.toml) is planned on K representative days (`--k` for a year case;
`count` for a synthetic one). Runs are identical by design
(same iterations and bounds), so the ratios compare the same work. Reported per rank count:
subproblem-phase wall time on rank 0 (pricing plans, including waiting for the other ranks), end-to-end
wall time of the command (start-up included), and load balance = max/mean of the ranks' busy time.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stochplan.config import default_case_path, load_case


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("case", nargs="?")
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--max-iter", type=int, default=12)
    parser.add_argument("--ranks", default="1,2")
    args = parser.parse_args()

    source = Path(args.case or default_case_path())
    work = Path(tempfile.mkdtemp(prefix="stochplan-scaling-"))
    year = load_case(source).scenarios.source == "year"
    case = source
    if not year:
        case = work / source.name
        case.write_text(re.sub(r"(?m)^count\s*=.*$", f"count = {args.k}", source.read_text()))
    mpiexec = Path(sys.executable).parent / "mpiexec"

    rows = []
    for ranks in (int(r) for r in args.ranks.split(",")):
        out = work / f"ranks{ranks}"
        cmd = [sys.executable, "-m", "stochplan", "plan", str(case), "--out", str(out), "-q",
               "--max-iter", str(args.max_iter)] + (["--k", str(args.k)] if year else [])
        if ranks > 1:
            cmd = [str(mpiexec), "-n", str(ranks)] + cmd
        else:
            cmd += ["--workers", "1"]                # one process, not forked workers
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        wall = time.perf_counter() - t0
        if proc.returncode not in (0, 1):
            sys.exit(f"{ranks} rank(s) failed ({proc.returncode}):\n{proc.stderr}")
        doc = json.loads((out / "results.json").read_text())
        t = doc["timings_s"]
        rows.append(dict(ranks=ranks, iterations=doc["benders"]["iterations"], ub=doc["benders"]["upper_bound"],
                         sub=t["subproblems_s"], solve=t["total_s"], wall=wall, balance=t["load_balance_max_over_mean"]))

    print(f"case {source.name} with K = {args.k} days, {args.max_iter} iterations at most; outputs in {work}")
    print(f"{'ranks':>5}{'iters':>7}{'subproblem s':>14}{'Benders s':>11}{'end-to-end s':>14}{'balance':>9}  upper bound")
    for r in rows:
        print(f"{r['ranks']:>5}{r['iterations']:>7}{r['sub']:>14.2f}{r['solve']:>11.2f}{r['wall']:>14.2f}"
              f"{r['balance']:>9.3f}  {r['ub']:,.2f}")
    base = rows[0]
    for r in rows[1:]:
        same = "identical" if (r["iterations"], r["ub"]) == (base["iterations"], base["ub"]) else "DIFFERENT"
        print(f"{r['ranks']} vs {base['ranks']} rank(s): subproblem phase {base['sub'] / r['sub']:.2f}x, "
              f"Benders {base['solve'] / r['solve']:.2f}x, end-to-end {base['wall'] / r['wall']:.2f}x; runs {same}")


if __name__ == "__main__":
    main()
