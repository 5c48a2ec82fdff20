"""First stage: the Benders master MILP in Pyomo, solved with HiGHS.

    min  cᵀx + c_yᵀy + 365 Σ_s π_s θ_s                          [EUR/year]
    s.t. E_k ≤ Ē y_k,  P_k ≤ P̄ y_k,  d_min P_k ≤ E_k ≤ d_max P_k,  0 ≤ C_n ≤ C̄
         Σ_k y_k ≤ max sites,  capexᵀx + capex_yᵀy ≤ budget
         θ_s ≥ Q_s(x̂ʲ) + g_sʲᵀ(x − x̂ʲ)    for every iterate j           (multi-cut)
         θ   ≥ Σ_s π_s [Q_s(x̂ʲ) + g_sʲᵀ(x − x̂ʲ)]                        (single-cut option)
Cuts go into a ConstraintList; every solve hands the whole model to a fresh HiGHS (see `_run`).

The stabilised steps of decomposition/stabilisation.py solve the same model with the siting fixed:
- `project`: min ‖(x − x_c)/x̄‖² s.t. cᵀx + c_yᵀy + 365 Σ π θ ≤ L and the cuts (a QP; level bundle);
- `interior`: a point of that level set from HiGHS's interior-point method without crossover, which lands
  near the set's analytic centre (Pecci & Jenkins 2025);
- `box`: the master's own objective within x_c ± Δ x̄ (box step / trust region).
"""
from __future__ import annotations

import logging
import math

import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.solver.common.factory import SolverFactory
from pyomo.contrib.solver.common.results import TerminationCondition

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


def first_stage_variables(m, fs: FirstStage) -> None:
    """x = [E, P, C] within [0, x̄] and the site binaries y (continuous in [0, 1] unless binary siting; fixed
    with fixed siting) on the Pyomo model `m` (the master here, a scenario in interop/mpisppy.py)."""
    m.X = pyo.RangeSet(0, fs.n_x - 1)
    m.K = pyo.RangeSet(0, fs.n_storage - 1)
    m.x = pyo.Var(m.X, bounds=lambda _, i: (0.0, float(fs.x_max[i])))
    m.y = pyo.Var(m.K, domain=pyo.Binary if fs.siting == "binary" else pyo.UnitInterval)
    if fs.siting == "fixed":
        for i in m.K:
            m.y[i].fix(float(fs.fixed_y[i]))


def first_stage_rows(m, fs: FirstStage) -> None:
    """The first stage's rows (module docstring) and its annualised cost `m.investment` [EUR/year]."""
    k = fs.n_storage
    m.energy_site = pyo.Constraint(m.K, rule=lambda m, i: m.x[i] <= fs.x_max[i] * m.y[i])
    m.power_site = pyo.Constraint(m.K, rule=lambda m, i: m.x[k + i] <= fs.x_max[k + i] * m.y[i])
    m.min_duration = pyo.Constraint(m.K, rule=lambda m, i: m.x[i] >= fs.min_duration_h * m.x[k + i])
    m.max_duration = pyo.Constraint(m.K, rule=lambda m, i: m.x[i] <= fs.max_duration_h * m.x[k + i])
    if k and fs.max_sites < k:
        m.sites = pyo.Constraint(expr=sum(m.y[i] for i in m.K) <= fs.max_sites)
    if math.isfinite(fs.budget_eur):
        m.budget = pyo.Constraint(expr=sum(fs.capex_x[i] * m.x[i] for i in m.X)
                                  + sum(fs.capex_y[i] * m.y[i] for i in m.K) <= fs.budget_eur)
    m.investment = pyo.Expression(expr=sum(fs.cost_x[i] * m.x[i] for i in m.X)
                                  + sum(fs.cost_y[i] * m.y[i] for i in m.K))


class Master:
    def __init__(self, fs: FirstStage, weights: np.ndarray, multicut: bool = True):
        self.fs, self.weights, self.multicut = fs, np.asarray(weights, dtype=float), multicut
        self.n_cuts = 0
        self.integer = fs.siting == "binary"
        m = self.model = pyo.ConcreteModel("master")
        first_stage_variables(m, fs)
        m.S = pyo.RangeSet(0, (len(self.weights) if multicut else 1) - 1)
        m.theta = pyo.Var(m.S)
        first_stage_rows(m, fs)
        theta_weights = self.weights if multicut else np.ones(1)
        m.objective = pyo.Objective(expr=m.investment + DAYS_PER_YEAR * sum(
            theta_weights[s] * m.theta[s] for s in m.S))
        m.level_rhs = pyo.Param(mutable=True, initialize=0.0)
        m.level = pyo.Constraint(expr=m.objective.expr <= m.level_rhs)
        m.cuts = pyo.ConstraintList()
        scale = np.where(fs.x_max > 0, fs.x_max, 1.0)
        m.center = pyo.Param(m.X, mutable=True, initialize=0.0)
        m.projection = pyo.Objective(expr=sum(((m.x[i] - m.center[i]) / float(scale[i])) ** 2 for i in m.X))
        m.feasibility = pyo.Objective(expr=0.0 * m.theta[0])
        for part in (m.level, m.projection, m.feasibility):
            part.deactivate()
        self.scale = scale

    def set_integrality(self, integer: bool) -> None:
        """Switch the siting binaries between {0, 1} and [0, 1] (LP phase); only for binary siting."""
        self.integer = integer
        if self.fs.siting == "binary":
            for i in self.model.K:
                self.model.y[i].domain = pyo.Binary if integer else pyo.UnitInterval

    def add_cuts(self, x_hat: np.ndarray, values: np.ndarray, gradients: np.ndarray) -> None:
        """θ_s ≥ Q_s(x̂) + g_sᵀ(x − x̂)  (or their π-weighted sum for single-cut)."""
        m = self.model
        if self.multicut:
            rows = [(s, values[s], gradients[s]) for s in range(len(values))]
        else:
            rows = [(0, self.weights @ values, self.weights @ gradients)]
        for s, q, g in rows:
            m.cuts.add(m.theta[s] >= float(q) + sum(float(g[i]) * (m.x[i] - float(x_hat[i]))
                                                     for i in m.X if g[i] != 0.0))
            self.n_cuts += 1

    def solve(self) -> tuple[float, np.ndarray, np.ndarray]:
        """→ (lower bound [EUR/year], x̂, ŷ)."""
        value = self._run(MILP_OPTIONS, "master problem")
        x, y = self._values()
        # With a 1e-9 MIP gap the incumbent is the master optimum; it is the Benders lower bound.
        return value, x, y

    def project(self, center: np.ndarray, level: float, y: np.ndarray) -> np.ndarray:
        """Level-bundle step: the point of {model ≤ level, siting y} nearest to `center` (scaled by x̄)."""
        m = self.model
        for i in m.X:
            m.center[i] = float(center[i])
        try:
            return self._stabilised(y, level, m.projection, PROJECTION_OPTIONS, "level-set projection")
        except SolverError as exc:           # a cycling QP (see PROJECTION_OPTIONS): any point of the set will do
            # info, not a warning: on the default case a third of the projections end here, and the measured
            # iteration counts of `level` are those of this mix (README, Benchmarks)
            log.info("%s; this step takes the interior point of the level set instead", exc)
            return self.interior(level, y)

    def interior(self, level: float, y: np.ndarray) -> np.ndarray:
        """Interior level-set step: an interior point of {model ≤ level, siting y} (IPM, no crossover)."""
        return self._stabilised(y, level, self.model.feasibility, INTERIOR_OPTIONS, "interior level-set point")

    def box(self, center: np.ndarray, radius: float, y: np.ndarray) -> tuple[float, np.ndarray]:
        """Box step: the master's optimum with siting y and x within center ± radius·x̄. → (value, x)."""
        m, fs = self.model, self.fs
        lo = np.clip(center - radius * self.scale, 0.0, fs.x_max)
        hi = np.clip(center + radius * self.scale, 0.0, fs.x_max)
        k = fs.n_storage
        unsited = np.concatenate([np.asarray(y) < 0.5] * 2 + [np.zeros(len(fs.x_max) - 2 * k, bool)])
        lo[unsited] = 0.0                     # a site the centre has and y drops: its sizes must reach 0
        for i in m.X:
            m.x[i].setlb(float(lo[i]))
            m.x[i].setub(float(hi[i]))
        try:
            self._fix_sites(y)
            value = self._run(MILP_OPTIONS, "box-step master")
            x, _ = self._values()
        finally:
            for i in m.X:
                m.x[i].setlb(0.0)
                m.x[i].setub(float(fs.x_max[i]))
            self._free_sites()
        return value, x

    # ------------------------------------------------------------------ helpers

    def _stabilised(self, y, level, objective, options, what) -> np.ndarray:
        m = self.model
        m.level_rhs = float(level)
        m.level.activate()
        m.objective.deactivate()
        objective.activate()
        try:
            self._fix_sites(y)
            self._run(options, what)
            x, _ = self._values()
        finally:
            objective.deactivate()
            m.objective.activate()
            m.level.deactivate()
            self._free_sites()
        return x

    def _fix_sites(self, y: np.ndarray) -> None:
        """Fix the siting (as continuous variables: HiGHS solves QPs, not MIQPs)."""
        if self.fs.siting != "fixed":
            for i in self.model.K:
                self.model.y[i].domain = pyo.UnitInterval
                self.model.y[i].fix(float(np.clip(y[i], 0.0, 1.0)))

    def _free_sites(self) -> None:
        if self.fs.siting != "fixed":
            for i in self.model.K:
                self.model.y[i].unfix()
            self.set_integrality(self.integer)

    def _run(self, options: dict, what: str) -> float:
        # A fresh HiGHS for every solve: a persistent one carries the history of its rows, bases and options
        # into the next solve, so a run resumed from a checkpoint (all cuts at once) drifted from the
        # uninterrupted one at the first stabilised step after the stop (60-day case under Slurm), and Pyomo's
        # interface keeps a QP's Hessian when a linear objective comes back (pyomo 6.10, contrib/solver/solvers/
        # highs.py: _build_and_pass_hessian returns early). Building the model costs ~1 ms per 10 cuts.
        res = SolverFactory("highs").solve(self.model, solver_options=options, load_solutions=False,
                                           raise_exception_on_nonoptimal_result=False)
        if res.termination_condition != TerminationCondition.convergenceCriteriaSatisfied:
            raise SolverError(what, str(res.termination_condition.name))
        res.solution_loader.load_vars()
        return float(res.incumbent_objective) if res.incumbent_objective is not None else math.nan

    def _values(self) -> tuple[np.ndarray, np.ndarray]:
        m = self.model
        x = np.array([pyo.value(m.x[i]) for i in m.X]) if self.fs.n_x else np.zeros(0)
        y = np.array([pyo.value(m.y[i]) for i in m.K]) if self.fs.n_storage else np.zeros(0)
        return np.clip(x, 0.0, self.fs.x_max), y
