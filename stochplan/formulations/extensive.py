"""Extensive form: every day in one cvxpy problem with the first stage as Variables — the reference
the Benders answer is checked against.

    min cᵀx + c_yᵀy + 365 Σ_s π_s cost_s(x)   over x, y ∈ [0, 1] (relaxed) or y fixed, and every day's operation
with the same first-stage constraints as the master. Integer siting needs a mixed-integer conic
solver; with Clarabel the siting is relaxed or fixed.
"""
from __future__ import annotations

import math
import time

import cvxpy as cp
import numpy as np

from ..instance import Instance
from ..result import PlanResult
from ..solvers import solve_conic
from .master import DAYS_PER_YEAR
from .operation import OBJ_SCALE, build_operation, read_solution


def first_stage_constraints(x, y, fs):
    """The master's constraints on (x, y), vectorised [MWh, MW, EUR]."""
    k = fs.n_storage
    e, p = x[:k], x[k:2 * k]
    cons = [x >= 0, x <= fs.x_max]
    if k:
        cons += [e <= cp.multiply(fs.x_max[:k], y), p <= cp.multiply(fs.x_max[k:2 * k], y),
                 e >= fs.min_duration_h * p, e <= fs.max_duration_h * p]
        cons += [y == fs.fixed_y] if fs.siting == "fixed" else [y >= 0, y <= 1]
        if fs.max_sites < k:
            cons.append(cp.sum(y) <= fs.max_sites)
    if math.isfinite(fs.budget_eur):
        cons.append(fs.capex_x @ x + (fs.capex_y @ y if k else 0) <= fs.budget_eur)
    return cons


def solve_extensive(inst: Instance):
    fs = inst.first
    start = time.perf_counter()
    x = cp.Variable(fs.n_x)
    y = cp.Variable(fs.n_storage)
    models = [build_operation(inst, day, x_src=x) for day in inst.days]
    weights = np.array([d.weight for d in inst.days])
    investment = fs.cost_x @ x + (fs.cost_y @ y if fs.n_storage else 0)
    operation = sum(w * cp.sum(list(m.cost.values())) for w, m in zip(weights, models))
    objective = OBJ_SCALE * investment + DAYS_PER_YEAR * operation
    cons = first_stage_constraints(x, y, fs) + [c for m in models for c in m.problem.constraints]
    problem = cp.Problem(cp.Minimize(objective), cons)
    build_s = time.perf_counter() - start
    solve_conic(problem, "extensive form")
    value = float(problem.value) / OBJ_SCALE
    x_val = np.clip(np.asarray(x.value).reshape(-1), 0.0, fs.x_max) if fs.n_x else np.zeros(0)
    y_val = np.asarray(y.value).reshape(-1) if fs.n_storage else np.zeros(0)
    sols = [read_solution(m) for m in models]
    return PlanResult(method="ef", x=x_val, y=y_val, investment_eur=fs.annual_cost(x_val, y_val), solutions=sols,
                      lower_bound=value, upper_bound=value, gap=0.0, converged=True, stop_reason="optimal",
                      timings={"total_s": time.perf_counter() - start, "build_s": build_s,
                               "solver_s": problem.solver_stats.solve_time or 0.0})
