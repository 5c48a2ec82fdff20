"""First stage: the Benders master MILP, solved with HiGHS (highspy).

    min  cᵀx + c_yᵀy + 365 Σ_s π_s θ_s                          [EUR/year]
    s.t. the first stage's rows (investment.FirstStage.rows),  0 ≤ x ≤ x̄,  y ∈ {0, 1}
         θ_s ≥ Q_s(x̂ʲ) + g_sʲᵀ(x − x̂ʲ)    for every iterate j           (multi-cut)
         θ   ≥ Σ_s π_s [Q_s(x̂ʲ) + g_sʲᵀ(x − x̂ʲ)]                        (single-cut option)
Columns [x, y, θ]. The rows are kept as arrays and every solve hands the whole model to a fresh HiGHS (see
`_run`). HiGHS is driven directly rather than through Pyomo: Pyomo re-read every cut's expression at every
solve (SimBench MV at 840 cuts: 0.40 s a master solve, 0.28 s here, HiGHS itself 0.27 s), and importing it
took 0.6 s in every process (interop/mpisppy.py, which writes Pyomo models for mpi-sppy, still does).

With few possible sitings (at most ENUMERATE_SITINGS vectors y with at most `max_sites` ones) the master is
solved as one LP per siting instead, each on the same HiGHS started from the previous siting's basis: its
optimum is the least of them (`_enumerate`).

The stabilised steps of decomposition/stabilisation.py solve the same model with the siting fixed:
- `project`: min ‖(x − x_c)/x̄‖² s.t. cᵀx + c_yᵀy + 365 Σ π θ ≤ L and the cuts (a QP; level bundle);
- `interior`: a point of that level set from HiGHS's interior-point method without crossover, which lands
  near the set's analytic centre (Pecci & Jenkins 2025);
- `box`: the master's own objective within x_c ± Δ x̄ (box step / trust region).
"""
from __future__ import annotations

import itertools
import logging
import math
import os
import sys

import highspy
import numpy as np
import scipy.sparse as sp

from ..errors import SolverError
from ..result import DAYS_PER_YEAR
from .investment import FirstStage

log = logging.getLogger(__name__)

# One thread: HiGHS's parallel parts reduce in a timing-dependent order, and a level step amplifies a last-bit
# difference until two runs of the same case (or a run and its resume) end at different plans (seen at K = 60).
MILP_OPTIONS = {"mip_rel_gap": 1e-9, "mip_abs_gap": 1e-6, "threads": 1}   # exact next to a 1e-4 Benders gap
# HiGHS's active-set QP can cycle: on the default case (after the tariff fix) the level projection of iteration 11
# ran for minutes without end; with this limit it stops after < 1 s, and the step falls back to the interior point.
PROJECTION_OPTIONS = {"threads": 1, "qp_iteration_limit": 20000}
INTERIOR_OPTIONS = {"solver": "ipm", "run_crossover": "off", "threads": 1}
INF = highspy.kHighsInf
# Up to this many sitings the master's MILP is solved as one LP per siting (y fixed, each LP started from the last
# one's basis): SimBench MV, 26 sitings at 888 cuts, 0.08 against the MILP's 0.27 s (15 nodes, 2 859 simplex
# iterations: its LP relaxation is 3.5 % under); the default case, 7 sitings at 150 cuts, 0.005 against 0.016 s.
ENUMERATE_SITINGS = 64
LP_OPTIONS = {"threads": 1}


class Master:
    def __init__(self, fs: FirstStage, weights: np.ndarray, multicut: bool = True):
        self.fs, self.weights, self.multicut = fs, np.asarray(weights, dtype=float), multicut
        self.integer = fs.siting == "binary"
        k, n_x = fs.n_storage, fs.n_x
        n_theta = len(self.weights) if multicut else 1
        self.y_at, self.theta_at = n_x, n_x + k           # first column of y and of θ
        self.n_col = n_x + k + n_theta
        a, b = fs.rows()
        self.first = (sp.hstack([a, sp.csr_matrix((a.shape[0], n_theta))]).tocsr(), b)
        self.cuts: list[tuple[np.ndarray, np.ndarray, float]] = []      # (columns, coefficients, upper bound)
        self._rows: tuple[sp.csr_matrix, np.ndarray] | None = None      # first stage and cuts stacked, until a cut
        self.cost = np.concatenate([fs.cost_x, fs.cost_y, DAYS_PER_YEAR * (self.weights if multicut else np.ones(1))])
        self.lower = np.concatenate([np.zeros(n_x + k), np.full(n_theta, -INF)])
        self.upper = np.concatenate([fs.x_max, np.ones(k), np.full(n_theta, INF)])
        if fs.siting == "fixed":
            self.lower[n_x:n_x + k] = self.upper[n_x:n_x + k] = fs.fixed_y
        self.scale = np.where(fs.x_max > 0, fs.x_max, 1.0)
        self.sitings = sitings(fs) if fs.siting == "binary" else None
        self.siting_bounds: np.ndarray | None = None    # the last master solve's optimum per siting (inf: infeasible)

    @property
    def n_cuts(self) -> int:
        return len(self.cuts)

    def set_integrality(self, integer: bool) -> None:
        """Switch the siting binaries between {0, 1} and [0, 1] (LP phase); only for binary siting."""
        self.integer = integer

    def add_cuts(self, x_hat: np.ndarray, values: np.ndarray, gradients: np.ndarray) -> None:
        """θ_s ≥ Q_s(x̂) + g_sᵀ(x − x̂)  (or their π-weighted sum for single-cut), kept as
        g_sᵀx − θ_s ≤ g_sᵀx̂ − Q_s(x̂)."""
        if self.multicut:
            rows = [(s, values[s], gradients[s]) for s in range(len(values))]
        else:
            rows = [(0, self.weights @ values, self.weights @ gradients)]
        for s, q, g in rows:
            g = np.asarray(g, dtype=float)
            nonzero = np.flatnonzero(g)
            self.cuts.append((np.append(nonzero, self.theta_at + s), np.append(g[nonzero], -1.0),
                              float(g[nonzero] @ np.asarray(x_hat, dtype=float)[nonzero]) - float(q)))
        self._rows = None

    def solve(self) -> tuple[float, np.ndarray, np.ndarray]:
        """→ (lower bound [EUR/year], x̂, ŷ)."""
        # With a 1e-9 MIP gap the incumbent is the master optimum; it is the Benders lower bound.
        integer = self.integer and self.fs.siting == "binary"
        self.siting_bounds = None
        if integer and self.sitings is not None:
            value, solution, self.siting_bounds = self._enumerate()
        else:
            value, solution = self._run(MILP_OPTIONS, "master problem", integer=integer)
        return (value, *self._values(solution))

    def project(self, center: np.ndarray, level: float, y: np.ndarray) -> np.ndarray:
        """Level-bundle step: the point of {model ≤ level, siting y} nearest to `center` (scaled by x̄):
        min Σ_i ((x_i − c_i)/x̄_i)², i.e. HiGHS's ½ xᵀQx + qᵀx with Q = diag(2/x̄²), q = −2c/x̄²."""
        n_x = self.fs.n_x
        inv_scale2 = 1.0 / self.scale ** 2
        linear = np.zeros(self.n_col)
        linear[:n_x] = -2.0 * np.asarray(center, dtype=float) * inv_scale2
        try:
            _, solution = self._run(PROJECTION_OPTIONS, "level-set projection", cost=linear, level=level,
                                    sites=y, hessian=2.0 * inv_scale2)
        except SolverError as exc:           # a cycling QP (see PROJECTION_OPTIONS): any point of the set will do
            # info, not a warning: on the default case a third of the projections end here, and the measured
            # iteration counts of `level` are those of this mix (README, Benchmarks)
            log.info("%s; this step takes the interior point of the level set instead", exc)
            return self.interior(level, y)
        return self._values(solution)[0]

    def interior(self, level: float, y: np.ndarray) -> np.ndarray:
        """Interior level-set step: an interior point of {model ≤ level, siting y} (IPM, no crossover)."""
        _, solution = self._run(INTERIOR_OPTIONS, "interior level-set point", cost=np.zeros(self.n_col),
                                level=level, sites=y)
        return self._values(solution)[0]

    def box(self, center: np.ndarray, radius: float, y: np.ndarray) -> tuple[float, np.ndarray]:
        """Box step: the master's optimum with siting y and x within center ± radius·x̄. → (value, x)."""
        fs = self.fs
        lo = np.clip(center - radius * self.scale, 0.0, fs.x_max)
        hi = np.clip(center + radius * self.scale, 0.0, fs.x_max)
        k = fs.n_storage
        unsited = np.concatenate([np.asarray(y) < 0.5] * 2 + [np.zeros(len(fs.x_max) - 2 * k, bool)])
        lo[unsited] = 0.0                     # a site the centre has and y drops: its sizes must reach 0
        value, solution = self._run(MILP_OPTIONS, "box-step master", sites=y, x_bounds=(lo, hi))
        return value, self._values(solution)[0]

    # ------------------------------------------------------------------ helpers

    def _run(self, options: dict, what: str, cost=None, level: float | None = None, sites=None,
             hessian: np.ndarray | None = None, x_bounds=None, integer: bool = False):
        """Solve the master with these changes → (objective value, column values); not optimal → SolverError.
        `cost`: another objective; `level`: the row cᵀx + c_yᵀy + 365 Σ π θ ≤ level; `sites`: y fixed (as
        continuous columns: HiGHS solves QPs, not MIQPs); `hessian`: the diagonal of a quadratic objective on x;
        `x_bounds`: (lo, hi) on x.

        A fresh HiGHS for every solve: a persistent one carries the history of its rows, bases and options into
        the next solve, so a run resumed from a checkpoint (all cuts at once) drifted from the uninterrupted one
        at the first stabilised step after the stop (60-day case under Slurm). Passing the model costs ~10 ms
        at 840 cuts."""
        n_x, lower, upper = self.fs.n_x, self.lower.copy(), self.upper.copy()
        if sites is not None and self.fs.siting != "fixed":
            lower[self.y_at:self.theta_at] = upper[self.y_at:self.theta_at] = np.clip(sites, 0.0, 1.0)
        if x_bounds is not None:
            lower[:n_x], upper[:n_x] = x_bounds
        lp = self._lp(self.cost if cost is None else cost, lower, upper, level)
        if integer:
            kind = np.full(self.n_col, highspy.HighsVarType.kContinuous)
            kind[self.y_at:self.theta_at] = highspy.HighsVarType.kInteger
            lp.integrality_ = list(kind)
        highs = _highs()
        for key, value in options.items():
            highs.setOptionValue(key, value)
        highs.passModel(lp)
        if hessian is not None:
            highs.passHessian(self.n_col, n_x, highspy.HessianFormat.kTriangular,
                              np.concatenate([np.arange(n_x + 1), np.full(self.n_col - n_x, n_x)]).astype(np.int32),
                              np.arange(n_x, dtype=np.int32), np.asarray(hessian, dtype=float))
        highs.run()
        status = highs.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            raise SolverError(what, highs.modelStatusToString(status))
        return highs.getInfo().objective_function_value, np.asarray(highs.getSolution().col_value)

    def _enumerate(self) -> tuple[float, np.ndarray, np.ndarray]:
        """The MILP's optimum as the least of one LP per siting (`self.sitings`, in their order; a tie keeps the
        first) → (objective value, column values, every siting's optimum). Each siting's optimum bounds the cost of
        every plan with those sites from below, as the master's optimum bounds all plans. A siting whose LP is
        infeasible (over the budget) has +inf. The LPs run one after another on the same HiGHS, each from the last
        one's basis: the same rows in the same order give the same answer, so a resumed run's masters are the
        uninterrupted run's. A hot-started LP that ends in another status (HiGHS's simplex said 'Unknown' once, on
        SimBench MV) is solved again on a fresh HiGHS (`_run`), which raises SolverError if it fails too; so does
        a master without any feasible siting."""
        y = np.arange(self.y_at, self.theta_at, dtype=np.int32)
        highs = _highs()
        for key, value in LP_OPTIONS.items():
            highs.setOptionValue(key, value)
        highs.passModel(self._lp(self.cost, self.lower, self.upper))
        best_value, best = np.inf, None
        values = np.full(len(self.sitings), np.inf)
        for i, sites in enumerate(self.sitings):
            highs.changeColsBounds(len(y), y, sites, sites)
            highs.run()
            status = highs.getModelStatus()
            if status == highspy.HighsModelStatus.kInfeasible:
                continue
            if status == highspy.HighsModelStatus.kOptimal:
                value, solution = highs.getInfo().objective_function_value, np.asarray(highs.getSolution().col_value)
            else:
                log.info("master problem, storage at buses %s: HiGHS ended '%s' from the last siting's basis; "
                         "solved afresh", self._buses(sites), highs.modelStatusToString(status))
                highs.clearSolver()            # the next siting starts without this one's basis
                try:
                    value, solution = self._run(LP_OPTIONS, f"master problem (storage sited at buses "
                                                            f"{self._buses(sites)})", sites=sites)
                except SolverError as exc:
                    if exc.status != highs.modelStatusToString(highspy.HighsModelStatus.kInfeasible):
                        raise
                    continue
            values[i] = value
            if value < best_value:
                best_value, best = value, solution
        if best is None:
            raise SolverError("master problem", "infeasible", "no siting satisfies the first stage's rows")
        return best_value, best, values

    def _buses(self, sites: np.ndarray) -> str:
        return ", ".join(str(self.fs.storage_buses[i]) for i in np.flatnonzero(sites > 0.5)) or "none"

    def _lp(self, cost: np.ndarray, lower: np.ndarray, upper: np.ndarray, level: float | None = None
            ) -> highspy.HighsLp:
        """The master's rows and these columns as a HiGHS model; `level`: the row cᵀx + c_yᵀy + 365 Σ π θ ≤ level."""
        a, b = self._stacked_rows()
        blocks, bounds = [a], [b]
        if level is not None:
            blocks.append(sp.csr_matrix(self.cost[None, :]))
            bounds.append(np.array([level]))
        matrix = sp.vstack(blocks).tocsc()
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = self.n_col, matrix.shape[0]
        lp.col_cost_ = cost
        lp.col_lower_, lp.col_upper_ = lower, upper
        lp.row_lower_, lp.row_upper_ = np.full(matrix.shape[0], -INF), np.concatenate(bounds)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = self.n_col, matrix.shape[0]
        lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = matrix.indptr, matrix.indices, matrix.data
        return lp

    def _stacked_rows(self) -> tuple[sp.csr_matrix, np.ndarray]:
        """The first stage's rows and every cut as one matrix and its upper bounds, built once per set of cuts
        (the master solve and the stabilised step of an iteration share it)."""
        if self._rows is None:
            a, b = self.first
            if self.cuts:
                columns, coefficients, rhs = zip(*self.cuts)
                rows = np.repeat(np.arange(len(self.cuts)), [len(c) for c in columns])
                cuts = sp.csr_matrix((np.concatenate(coefficients), (rows, np.concatenate(columns))),
                                     shape=(len(self.cuts), self.n_col))
                a, b = sp.vstack([a, cuts]).tocsr(), np.concatenate([b, rhs])
            self._rows = (a, b)
        return self._rows

    def _values(self, solution: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.clip(solution[:self.fs.n_x], 0.0, self.fs.x_max)
        return x, np.array(solution[self.y_at:self.theta_at])


def sitings(fs: FirstStage) -> np.ndarray | None:
    """(n, K) every siting with at most `fs.max_sites` sites, fewest sites first, or None when there are more
    than ENUMERATE_SITINGS (the master is then a MILP) or no candidates."""
    k = fs.n_storage
    most = min(fs.max_sites, k)
    if k == 0 or sum(math.comb(k, j) for j in range(most + 1)) > ENUMERATE_SITINGS:   # k = 0: nothing to site
        return None
    rows = [np.isin(np.arange(k), chosen).astype(float)
            for j in range(most + 1) for chosen in itertools.combinations(range(k), j)]
    return np.array(rows)


_banner_shown = False


def _highs() -> highspy.Highs:
    """A fresh, silent HiGHS. The first one of a process prints HiGHS's banner on the C stdout, before any
    option can silence it, into the middle of our log: that one is made with file descriptor 1 on /dev/null."""
    global _banner_shown
    if _banner_shown:
        highs = highspy.Highs()
    else:
        sys.stdout.flush()
        saved, devnull = os.dup(1), os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
            highs = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(devnull)
        _banner_shown = True
    highs.setOptionValue("output_flag", False)
    return highs
