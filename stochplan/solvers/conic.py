"""Solve a cvxpy problem with Clarabel; retry with stronger numerics; never hand back a non-optimal answer."""
from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import clarabel
import cvxpy as cp
import numpy as np
import scipy.sparse as sp
from cvxpy.reductions.solvers.conic_solvers.clarabel_conif import dims_to_solver_cones

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
# The extensive form's first attempt keeps Clarabel's 1e-8 feasibility tolerance: its answer is a value (and the
# branch-and-bound's bounds, pruned at 1e-7 relative), not a cut; at 1e-10, 8 of SimBench MV's 23 nodes needed a
# retry (174.1 against 125.4 s, 2 retries, the same optimum to the last digit printed).
EF_FIRST = dict(iterative_refinement_enable=False)
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


class KeptSolver:
    """One Clarabel solver kept for a parametrised problem that is solved again and again (a day priced in every
    Benders round): set up once, then only its data are updated before each solve, which saves the setup
    (~8 of a default-case day's 53 ms).

    It is always set up from the same reference data (`reference()`, e.g. the day at x̂ = 0), never from the
    data of whichever solve came first: Clarabel's equilibration is computed at setup and kept, so an updated
    solve depends on the setup data as well as on its own, though not on the solves in between (measured bit
    for bit: setup(A) → update(C) equals setup(A) → solve → update(B) → solve → update(C); a fresh setup on C
    differs in the last bits). Set up from a fixed reference, and that reference passed once through `update`
    (data set up and data updated differ in their last bits too), a day's answer is the same on any rank, after
    any other days, and in a resumed run. Presolve is off (Clarabel allows no update after it)."""

    def __init__(self, reference: Callable[[], dict]):
        self._reference = reference        # → cvxpy's Clarabel data at the reference parameter values
        self._solver = None
        self._matrices: dict = {}          # the P and A the solver holds

    def attempt(self, problem: cp.Problem) -> tuple[str, float]:
        """Solve `problem` (at its current parameter values) with the kept solver → (cvxpy's status, seconds
        inside Clarabel's solve: measured here, as an updated solver's own `solve_time` read up to ~20 % above
        the wall time of the whole call in a plan run)."""
        if self._solver is None:
            settings = clarabel.DefaultSettings()
            settings.verbose, settings.presolve_enable = False, False
            for name, value in NO_REFINEMENT.items():
                setattr(settings, name, value)
            P, q, A, b, cones = _clarabel_data(self._reference())
            self._solver = clarabel.DefaultSolver(P, q, A, b, cones, settings)
            # the reference data once more through `update`: data set up and data updated differ in their
            # last bits, so the solver holds updated data only (a skipped update below then changes nothing)
            self._solver.update(P=P, q=q, A=A, b=b)
            self._matrices = {"P": P, "A": A}
        data, chain, inverse = problem.get_problem_data(cp.CLARABEL, solver_opts={})   # {}: read by invert
        P, q, A, b, _ = _clarabel_data(data)
        # P and A only when they changed (A's update is 2 of the 3 ms a full one takes): the solver then holds
        # the same data either way
        changed = {name: new for name, new in (("P", P), ("A", A)) if not _same(new, self._matrices[name])}
        try:
            self._solver.update(q=q, b=b, **changed)
        except Exception:                  # another sparsity pattern (an entry at 0 dropped): solve this afresh,
            self._solver = None            # and the next from the reference again (the update may have half-run)
            return _attempt(problem, NO_REFINEMENT), _solver_seconds(problem)
        self._matrices.update(changed)
        start = time.perf_counter()
        try:
            result = self._solver.solve()
            seconds = time.perf_counter() - start
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Solution may be inaccurate")   # the status is checked
                problem.unpack_results(result, chain, inverse)
        except Exception as exc:
            return f"solver error: {exc}", time.perf_counter() - start
        return problem.status, seconds


def _same(a: sp.csc_array, b: sp.csc_array) -> bool:
    return a.shape == b.shape and np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices) \
        and np.array_equal(a.data, b.data)


def _clarabel_data(data: dict) -> tuple:
    """(P upper triangle, q, A, b, cones) from cvxpy's Clarabel data, as cvxpy's own interface forms them."""
    q = data["c"]
    P = data.get("P")
    P = sp.triu(P).tocsc() if P is not None else sp.csc_array((q.size, q.size))
    return P, q, data["A"], data["b"], dims_to_solver_cones(data["dims"])


def solve_conic(problem: cp.Problem, what: str, kept: KeptSolver | None = None,
                first: dict = NO_REFINEMENT) -> SolveReport:
    """Solve `problem` (first with `kept`'s solver when given, else with the settings `first`); an inaccurate or
    failed solve is retried afresh, and if still not optimal, raised."""
    if kept is not None:
        status, seconds = kept.attempt(problem)
    else:
        status = _attempt(problem, first)
        seconds = _solver_seconds(problem)
    retries = 0
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
        # warm_start=False: a fresh Clarabel setup. cvxpy's own reuse (warm_start=True) sets its solver up from
        # whichever data came first, so a day's answer would depend on its history (KeptSolver does not).
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Solution may be inaccurate")   # the status is checked
            problem.solve(solver=cp.CLARABEL, warm_start=False, **settings)
    except cp.error.SolverError as exc:
        return f"solver error: {exc}"
    return problem.status
