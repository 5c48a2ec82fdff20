"""First stage: the Benders master MILP in Pyomo, solved persistently with HiGHS.

    min  cᵀx + c_yᵀy + 365 Σ_s π_s θ_s                          [EUR/year]
    s.t. E_k ≤ Ē y_k,  P_k ≤ P̄ y_k,  d_min P_k ≤ E_k ≤ d_max P_k,  0 ≤ C_n ≤ C̄
         Σ_k y_k ≤ max sites,  capexᵀx + capex_yᵀy ≤ budget
         θ_s ≥ Q_s(x̂ʲ) + g_sʲᵀ(x − x̂ʲ)    for every iterate j           (multi-cut)
         θ   ≥ Σ_s π_s [Q_s(x̂ʲ) + g_sʲᵀ(x − x̂ʲ)]                        (single-cut option)
Cuts go into a ConstraintList; the persistent solver picks up only the new rows.
"""
from __future__ import annotations

import math

import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.solver.common.factory import SolverFactory
from pyomo.contrib.solver.common.results import TerminationCondition

from ..errors import SolverError
from .investment import FirstStage

DAYS_PER_YEAR = 365.0
HIGHS_OPTIONS = {"mip_rel_gap": 1e-9, "mip_abs_gap": 1e-6}   # the master must be exact next to a 1e-4 Benders gap


class Master:
    def __init__(self, fs: FirstStage, weights: np.ndarray, multicut: bool = True):
        self.fs, self.weights, self.multicut = fs, np.asarray(weights, dtype=float), multicut
        self.n_cuts = 0
        m = self.model = pyo.ConcreteModel("master")
        k = fs.n_storage
        m.X = pyo.RangeSet(0, fs.n_x - 1)
        m.K = pyo.RangeSet(0, k - 1)
        m.S = pyo.RangeSet(0, (len(self.weights) if multicut else 1) - 1)
        m.x = pyo.Var(m.X, bounds=lambda _, i: (0.0, float(fs.x_max[i])))
        m.y = pyo.Var(m.K, domain=pyo.Binary if fs.siting == "binary" else pyo.UnitInterval)
        if fs.siting == "fixed":
            for i in m.K:
                m.y[i].fix(float(fs.fixed_y[i]))
        m.theta = pyo.Var(m.S)

        m.energy_site = pyo.Constraint(m.K, rule=lambda m, i: m.x[i] <= fs.x_max[i] * m.y[i])
        m.power_site = pyo.Constraint(m.K, rule=lambda m, i: m.x[k + i] <= fs.x_max[k + i] * m.y[i])
        m.min_duration = pyo.Constraint(m.K, rule=lambda m, i: m.x[i] >= fs.min_duration_h * m.x[k + i])
        m.max_duration = pyo.Constraint(m.K, rule=lambda m, i: m.x[i] <= fs.max_duration_h * m.x[k + i])
        if k and fs.max_sites < k:
            m.sites = pyo.Constraint(expr=sum(m.y[i] for i in m.K) <= fs.max_sites)
        if math.isfinite(fs.budget_eur):
            m.budget = pyo.Constraint(expr=sum(fs.capex_x[i] * m.x[i] for i in m.X)
                                      + sum(fs.capex_y[i] * m.y[i] for i in m.K) <= fs.budget_eur)
        theta_weights = self.weights if multicut else np.ones(1)
        m.investment = pyo.Expression(expr=sum(fs.cost_x[i] * m.x[i] for i in m.X)
                                      + sum(fs.cost_y[i] * m.y[i] for i in m.K))
        m.objective = pyo.Objective(expr=m.investment + DAYS_PER_YEAR * sum(
            theta_weights[s] * m.theta[s] for s in m.S))
        m.cuts = pyo.ConstraintList()
        self.solver = SolverFactory("highs")

    def set_integrality(self, integer: bool) -> None:
        """Switch the siting binaries between {0, 1} and [0, 1] (LP phase); only for binary siting."""
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
        res = self.solver.solve(self.model, solver_options=HIGHS_OPTIONS, raise_exception_on_nonoptimal_result=False,
                                load_solutions=False)
        if res.termination_condition != TerminationCondition.convergenceCriteriaSatisfied:
            raise SolverError("master problem", str(res.termination_condition.name))
        res.solution_loader.load_vars()
        m = self.model
        x = np.array([pyo.value(m.x[i]) for i in m.X]) if self.fs.n_x else np.zeros(0)
        x = np.clip(x, 0.0, self.fs.x_max)
        y = np.array([pyo.value(m.y[i]) for i in m.K]) if self.fs.n_storage else np.zeros(0)
        # With a 1e-9 MIP gap the incumbent is the master optimum; it is the Benders lower bound.
        return float(res.incumbent_objective), x, y
