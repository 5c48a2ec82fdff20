"""What `stochplan plan` spends after the Benders loop, against the loop (issue target: ≤ 25 % at every K).

    python benchmarks/after_loop.py [--runs 2] [plan arguments …]               # forked workers, one per core
    python benchmarks/after_loop.py [--runs 2] --workers 1 [plan arguments …]   # one process
    mpiexec -n 2 python benchmarks/after_loop.py [--runs 2] [plan arguments …]  # two ranks

Runs the plan command in this process (`cli.main`, into a new temporary directory unless `--out` is given) and
times the moment Benders returns. The part after the loop splits into:
- `final_s` (from results.json): the final plan's exact day solves and AC check; without a helper process also the
  business-as-usual baseline's days not solved during the warm start; on several ranks also the figures, a share
  on each;
- everything from Benders' return to the end of the command: assembly, economics, files. Of it, `baseline` is the
  assembly of the AC check and the baseline, which waits for the baseline's helpers where the loop left them
  too little idle CPU (K = 50 on two workers: 0.6–1.1 s).
Prints one line per run on rank 0.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time

import stochplan.decomposition as decomposition
from stochplan import cli
from stochplan.parallel import get_comm
from stochplan.workflows.final import FinalDay


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    args, plan_args = parser.parse_known_args()
    returned = {}
    solve = decomposition.solve_benders

    def timed(*a, **k):        # the CLI imports solve_benders from the package when it runs
        result = solve(*a, **k)
        returned["at"], returned["result"] = time.perf_counter(), result
        return result

    decomposition.solve_benders = timed
    assemble = FinalDay.assemble

    def assembled(final, res):
        start = time.perf_counter()
        try:
            return assemble(final, res)
        finally:
            returned["baseline"] = time.perf_counter() - start

    FinalDay.assemble = assembled
    rank = get_comm().rank
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as scratch:
            extra = [] if "--out" in plan_args else ["--out", f"{scratch}/out"]     # only rank 0 writes
            start = time.perf_counter()
            code = cli.main(["plan", *plan_args, *extra, "-q"])
            end = time.perf_counter()
        res = returned.get("result")
        if rank != 0 or isinstance(res, int) or res is None:
            continue
        loop, final = res.timings["loop_s"], res.timings["final_s"]
        files = end - returned["at"]
        after = final + files
        print(f"run {run + 1}: exit {code}, {res.timings['ranks']} rank(s), {len(res.history) - 1} iterations; "
              f"command {end - start:.2f} s, loop {loop:.2f} s, final_s {final:.2f} s, economics and files "
              f"{files:.2f} s (baseline {returned.get('baseline', 0.0):.2f} s): after the loop {after:.2f} s = "
              f"{100 * after / loop:.0f} % of the loop", flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
