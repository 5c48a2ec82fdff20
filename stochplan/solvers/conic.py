"""Solve a cvxpy problem with Clarabel; retry with stronger numerics; never hand back a non-optimal answer."""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import cvxpy as cp

from ..errors import SolverError

log = logging.getLogger(__name__)

# Clarabel's own settings (cvxpy forwards keyword arguments to clarabel.DefaultSettings). The tolerances stay
# at their defaults; the retries change the linear algebra. Seen on the default case: rare stalls at a
# relative gap of 1.1e-8–1.6e-8 against the 1e-8 tolerance ('AlmostSolved'); on the two such days we kept,
# either the faer solver or solving without equilibration ends 'Solved'. On the SimBench MV case (lines of
# 4e-5 pu next to a 80 pu transformer) day solves stall at the 1e-8 gap; at 1e-7 (0.01 EUR per day in the
# solver's unit, far below what Benders' 1e-4 needs) they end 'Solved' in the same iterations.
#
# First attempt: Clarabel without iterative refinement of its KKT solves.
# Refinement to its default 1e-13 took half of Clarabel's time on our problems for no gain at its 1e-8
# tolerances (measured, default case, 50 day solves at 5 plans: 1.9 instead of 3.7 s, the same interior-point
# iterations, day values within 1e-7 relative, every cut within 1.3e-10 of the day's value at the other plans;
# SimBench MV 40 solves: 11.9 instead of 19.7 s, cuts within 1.6e-7, one solve to retry; the exact EF of the
# default case 4.9 instead of 9.9 s, the same optimum to 0.01 EUR/year). Every retry below refines again
# (Clarabel's default).
#
# ... and with a feasibility tolerance of 1e-10 instead of 1e-8: the objective in its unit (OBJ_SCALE) is small
# against the constraint data, so at 1e-8 a solve could end 'Solved' with primal and dual objectives agreeing to
# 2e-9 yet both 1.6e-7 above the optimum (the hand-made storage case: the storage held 2.7e-5 MW off its
# capacity, 0.016 EUR/day, and a cut from that dual 0.036 EUR/day too high at another plan); at 1e-10 one more
# interior-point iteration there, and on the default case's days the same iterations and values bit for bit.
NO_REFINEMENT = dict(iterative_refinement_enable=False, tol_feas=1e-10)
RETRIES = (
    dict(tol_gap_abs=1e-7, tol_gap_rel=1e-7),
    # the extensive form at K = 50 (50 days coupled, node "sites 1··"): 'AlmostSolved' at a relative gap of
    # 1.37e-7 with residuals 6e-15 / 2e-11, no step possible, after every other retry below (6 attempts, 80 s);
    # 1e-6 is 0.9 EUR/year there, a hundredth of Benders' 1e-4
    dict(tol_gap_abs=1e-6, tol_gap_rel=1e-6),
    dict(equilibrate_max_iter=50, iterative_refinement_max_iter=50,
         iterative_refinement_reltol=1e-15, iterative_refinement_abstol=1e-14),
    dict(direct_solve_method="faer", max_threads=1),     # one thread: the same answer every run
    dict(equilibrate_enable=False, max_iter=500),
    # SimBench MV, day 81 at one master plan: every retry above stalls ('InsufficientProgress' or inaccurate),
    # no equilibration with the 1e-7 gap solves it in 53 iterations
    dict(equilibrate_enable=False, max_iter=500, tol_gap_abs=1e-7, tol_gap_rel=1e-7),
)



@dataclass(frozen=True)
class SolveReport:
    """One optimal solve: the retries it took (0: the first attempt) and Clarabel's own seconds over all
    attempts (cvxpy's parameter substitution and read-back excluded)."""
    retries: int
    solver_s: float


def solve_conic(problem: cp.Problem, what: str) -> SolveReport:
    """Solve `problem`; an inaccurate or failed solve is retried, and if still not optimal, raised."""
    status = _attempt(problem, NO_REFINEMENT)
    seconds, retries = _solver_seconds(problem), 0
    for settings in RETRIES:
        if status == cp.OPTIMAL:
            break
        log.info("%s: Clarabel returned '%s'; retrying with %s", what, status, ", ".join(settings))
        retries += 1
        status = _attempt(problem, settings)
        seconds += _solver_seconds(problem)
    if status != cp.OPTIMAL:
        raise SolverError(what, status, "after retries with stronger numerics")
    return SolveReport(retries=retries, solver_s=seconds)


def _solver_seconds(problem: cp.Problem) -> float:
    stats = problem.solver_stats
    return float(stats.solve_time or 0.0) if stats is not None else 0.0


def _attempt(problem: cp.Problem, settings: dict) -> str:
    try:
        # warm_start=False: a fresh Clarabel setup every solve. Reusing the solver through `update()` (presolve
        # off) saves its setup, ~8 of a default-case day's 53 ms (loop 8.5 instead of 9.3 s), but a solve after
        # an update is not bit-identical to a fresh one (measured: not even the same data re-solved), so a day's
        # cuts would depend on its solve history and 1 vs N ranks and resumed runs would no longer be identical.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Solution may be inaccurate")   # the status is checked
            problem.solve(solver=cp.CLARABEL, warm_start=False, **settings)
    except cp.error.SolverError as exc:
        return f"solver error: {exc}"
    return problem.status
