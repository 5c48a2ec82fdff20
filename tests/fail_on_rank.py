"""Run `stochplan plan` with one day's solve failing at a given iteration (for the failure test).

    mpiexec -n 2 python tests/fail_on_rank.py DAY_INDEX FAIL_AT_CALL -- plan CASE --out DIR
    python tests/fail_on_rank.py -1 FAIL_AT_CALL -- plan CASE --out DIR --workers 2
The failure is injected here, in the test, by wrapping the solver call the evaluator makes. DAY_INDEX −1: a
forked worker (parallel/workers.py) is killed at its FAIL_AT_CALL-th solve instead, as by the OOM killer.
FAIL_AT_CALL 0: the day fails in the final exact solve of the plan (after the loop), wherever it is solved."""
import os
import sys

import stochplan.decomposition.evaluator as evaluator
from stochplan.cli import main
from stochplan.errors import SolverError

day_index, fail_at = int(sys.argv[1]), int(sys.argv[2])
calls = {"n": 0}
main_pid = os.getpid()
real_solve_day = evaluator.solve_day


def failing_solve_day(model, x_hat, cut=False):
    if day_index == -1 and os.getpid() != main_pid:
        calls["n"] += 1
        if calls["n"] >= fail_at:
            os._exit(9)
    if fail_at == 0 and model.day.day == day_index and not cut:
        raise SolverError(f"day {model.day.day}", "NumericalError (injected by the test)")
    if fail_at > 0 and model.day.day == day_index:
        calls["n"] += 1
        if calls["n"] >= fail_at:
            raise SolverError(f"day {model.day.day}", "NumericalError (injected by the test)")
    return real_solve_day(model, x_hat, cut=cut)


evaluator.solve_day = failing_solve_day
sys.exit(main(sys.argv[4:]))
