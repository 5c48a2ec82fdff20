"""Extensive form: every day in one cvxpy problem with the first stage as Variables — the reference
the Benders answer is checked against.

    min cᵀx + c_yᵀy + 365 Σ_s π_s cost_s(x)   over x, y and every day's operation
with the same first-stage constraints as the master. Clarabel has no integers, so binary siting is made
exact by branch-and-bound over the siting binaries: each node is the EF with some y_k fixed to 0 or 1 and
the others relaxed to [0, 1]; its optimum bounds the node's subtree (relaxation), an integral optimum is a
candidate, and a node whose bound is not below the best candidate is pruned. The problem is compiled once
(the node's bounds on y are Parameters) and re-solved per node; nodes are taken best bound first.
"""
from __future__ import annotations

import heapq
import logging
import math
import time

import cvxpy as cp
import numpy as np

from ..result import DAYS_PER_YEAR, PlanResult
from ..solvers import solve_conic
from .operation import OBJ_SCALE, build_operation, read_solution
from .options import PlanInputs

log = logging.getLogger(__name__)
INTEGRAL = 1e-6        # a relaxed y this close to 0 or 1 is integral
PRUNE = 1e-7           # relative: a node whose bound is within this of the best plan cannot improve it


def first_stage_constraints(x, y, fs, y_lo=None, y_hi=None):
    """The master's constraints on (x, y), vectorised [MWh, MW, EUR]; y within [y_lo, y_hi] (Parameters)."""
    k = fs.n_storage
    e, p = x[:k], x[k:2 * k]
    cons = [x >= 0, x <= fs.x_max]
    if k:
        cons += [e <= cp.multiply(fs.x_max[:k], y), p <= cp.multiply(fs.x_max[k:2 * k], y),
                 e >= fs.min_duration_h * p, e <= fs.max_duration_h * p]
        if fs.siting == "fixed":
            cons.append(y == fs.fixed_y)
        elif y_lo is not None:
            cons += [y >= y_lo, y <= y_hi]
        else:
            cons += [y >= 0, y <= 1]
        if fs.max_sites < k:
            cons.append(cp.sum(y) <= fs.max_sites)
    if math.isfinite(fs.budget_eur):
        cons.append(fs.capex_x @ x + (fs.capex_y @ y if k else 0) <= fs.budget_eur)
    return cons


def solve_extensive(inst: PlanInputs, exact: bool = True) -> PlanResult:
    """The EF optimum; with binary siting and `exact`, by branch-and-bound (else the relaxation)."""
    fs = inst.first
    start = time.perf_counter()
    x = cp.Variable(fs.n_x)
    y = cp.Variable(fs.n_storage)
    y_lo = cp.Parameter(fs.n_storage, value=np.zeros(fs.n_storage))
    y_hi = cp.Parameter(fs.n_storage, value=np.ones(fs.n_storage))
    models = [build_operation(inst, day, x_src=x) for day in inst.days]
    weights = np.array([d.weight for d in inst.days])
    investment = fs.cost_x @ x + (fs.cost_y @ y if fs.n_storage else 0)
    operation = sum(w * cp.sum(list(m.cost.values())) for w, m in zip(weights, models))
    objective = OBJ_SCALE * investment + DAYS_PER_YEAR * operation
    cons = first_stage_constraints(x, y, fs, y_lo, y_hi) + [c for m in models for c in m.problem.constraints]
    problem = cp.Problem(cp.Minimize(objective), cons)
    build_s = time.perf_counter() - start

    reports = []

    def node(lo: np.ndarray, hi: np.ndarray):
        y_lo.value, y_hi.value = lo, hi
        reports.append(solve_conic(problem, "extensive form" + (f" (sites fixed {_describe(lo, hi)})"
                                                                  if fs.n_storage else "")))
        x_val = np.clip(np.asarray(x.value).reshape(-1), 0.0, fs.x_max) if fs.n_x else np.zeros(0)
        y_val = np.clip(np.asarray(y.value).reshape(-1), 0.0, 1.0) if fs.n_storage else np.zeros(0)
        return float(problem.value) / OBJ_SCALE, x_val, y_val

    branching = exact and fs.siting == "binary" and fs.n_storage > 0
    best, best_plan, nodes = math.inf, None, 0
    queue = [(-math.inf, 0, np.zeros(fs.n_storage), np.ones(fs.n_storage))]
    while queue:
        bound, _, lo, hi = heapq.heappop(queue)
        if bound >= best - PRUNE * abs(best):
            continue
        value, x_val, y_val = node(lo, hi)
        nodes += 1
        fractional = np.abs(y_val - np.round(y_val))
        log.info("EF node %d (sites %s): %.2f EUR/year%s", nodes, _describe(lo, hi), value,
                 "" if not branching or fractional.max() <= INTEGRAL else f", y = {np.round(y_val, 3).tolist()}")
        if value >= best - PRUNE * abs(best):
            continue
        if not branching or fractional.max() <= INTEGRAL:
            y_val = np.round(y_val) if branching else y_val
            best, best_plan = value, (x_val, y_val, [read_solution(m) for m in models])
            continue
        k = int(np.argmax(fractional))
        for fixed in (0.0, 1.0):
            child_lo, child_hi = lo.copy(), hi.copy()
            child_lo[k] = child_hi[k] = fixed
            heapq.heappush(queue, (value, nodes * 2 + int(fixed), child_lo, child_hi))
    x_val, y_val, sols = best_plan
    return PlanResult(method="ef", x=x_val, y=y_val, investment_eur=fs.annual_cost(x_val, y_val), solutions=sols,
                      lower_bound=best, upper_bound=best, gap=0.0, converged=True, stop_reason="optimal",
                      timings={"total_s": time.perf_counter() - start, "build_s": build_s,
                              "solver_s": sum(r.solver_s for r in reports),
                              "solver_retries": sum(r.retries for r in reports),
                               "nodes": nodes, "siting": "binary (branch-and-bound)" if branching else fs.siting})


def _describe(lo: np.ndarray, hi: np.ndarray) -> str:
    fixed = [("1" if lo[k] == 1 else "0") if lo[k] == hi[k] else "·" for k in range(len(lo))]
    return "".join(fixed) or "-"
