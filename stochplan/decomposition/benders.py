"""Benders decomposition (L-shaped, multi-cut by default) of the two-stage planning problem.

LB = master optimum; UB = best cᵀx̂ + c_yᵀŷ + 365 Σ_s π_s Q_s(x̂) over priced plans that are feasible for
the master; stop when (UB − LB)/|UB| ≤ tol, at `max_iter` master solves, or past `time_limit_s`.

- Iteration 0 prices "build nothing", so every θ_s has a cut before the first master solve.
- LP phase (binary siting only): first converge on the master's LP relaxation, whose cuts stay valid,
  then restore integrality. Its bounds are those of the relaxation; its plans are not integer, so they
  never become the incumbent.
- In-out stabilisation (Ben-Ameur & Neto 2007; Fischetti, Ljubić & Sinnl 2017): cuts are computed at
  x_sep = α x_master + (1 − α) x_core. In the LP phase x_core ← (x_core + x_sep)/2; in the integer
  phase each siting keeps its own core, the best plan priced with those sites, and a siting seen for
  the first time is priced as the master proposes it (a mix of two sitings is no plan). After 3 iterations without a rise of the lower bound, α = 1 (plain Kelley
  steps, which guarantee convergence).
"""
from __future__ import annotations

import logging
import time

import numpy as np

from ..formulations.master import DAYS_PER_YEAR, Master
from ..formulations.operation import DaySolution, build_operation, solve_day
from ..instance import Instance
from ..parallel import get_comm
from ..result import Iteration, PlanResult

log = logging.getLogger(__name__)
STALL_ITERATIONS = 3


def relative_gap(lb: float, ub: float) -> float:
    return (ub - lb) / max(abs(ub), 1.0)


class DayEvaluator:
    """Owns this rank's day models (built once) and prices a plan x̂ on them."""

    def __init__(self, inst: Instance, comm=None):
        self.comm = comm or get_comm()
        self.n_days = len(inst.days)
        self.day_ids = self.comm.owned_days(self.n_days)
        start = time.perf_counter()
        self.models = [build_operation(inst, inst.days[i]) for i in self.day_ids]
        self.build_s = time.perf_counter() - start
        self.solver_s = 0.0

    def evaluate(self, x_hat: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[DaySolution]]:
        """→ (Q_s(x̂) [EUR/day], g_s [EUR/day per unit x], solutions of the days owned here)."""
        x_hat = self.comm.bcast(x_hat)
        solutions = [solve_day(m, x_hat) for m in self.models]
        self.solver_s += sum(m.problem.solver_stats.solve_time or 0.0 for m in self.models)
        values = self.comm.gather_days(np.array([s.cost_eur for s in solutions]), self.day_ids, self.n_days)
        grads = self.comm.gather_days(np.array([s.gradient for s in solutions]).reshape(len(solutions), -1),
                                      self.day_ids, self.n_days)
        return values, grads, solutions


class _Run:
    """State of one Benders run: master, evaluator, incumbent, history, timers."""

    def __init__(self, inst: Instance, tol: float, max_iter: int, time_limit_s: float, multicut: bool):
        self.inst, self.fs = inst, inst.first
        self.tol, self.max_iter, self.time_limit_s = tol, max_iter, time_limit_s
        self.weights = np.array([d.weight for d in inst.days])
        self.start = time.perf_counter()
        self.evaluator = DayEvaluator(inst)
        self.master = Master(self.fs, self.weights, multicut=multicut)
        self.history: list[Iteration] = []
        self.best = (np.inf, None, None, None)
        self.lb = -np.inf
        self.iteration = 0
        self.master_s = self.sub_s = 0.0

    def price(self, x, y):
        t0 = time.perf_counter()
        values, grads, sols = self.evaluator.evaluate(x)
        self.master.add_cuts(x, values, grads)
        total = self.fs.annual_cost(x, y) + DAYS_PER_YEAR * float(self.weights @ values)
        elapsed = time.perf_counter() - t0
        self.sub_s += elapsed
        return total, sols, elapsed

    def record(self, phase, lb, ub, master_s, sub_s):
        gap = relative_gap(lb, ub) if np.isfinite(lb) else np.inf
        self.history.append(Iteration(self.iteration, lb, ub, gap, master_s, sub_s, phase))
        log.info("iter %3d %-4s LB %14.2f  UB %14.2f  gap %9.2e  master %6.2fs  subproblems %6.2fs",
                 self.iteration, phase, lb, ub, gap, master_s, sub_s)
        return gap

    def out_of_time(self):
        return time.perf_counter() - self.start > self.time_limit_s

    def phase(self, name: str, integer: bool, stabilise: bool, alpha: float) -> str:
        """Run master/subproblem iterations until the phase's gap ≤ tol; → stop reason."""
        self.master.set_integrality(integer)
        valid_ub = integer or self.fs.siting != "binary"      # LP-phase plans have fractional sites
        phase_best = self.best[0] if valid_ub else np.inf
        alpha = alpha if stabilise else 1.0
        core, stall, phase_lb = None, 0, -np.inf
        binary = integer and self.fs.siting == "binary"
        site_cores: dict[tuple, tuple[float, np.ndarray]] = {}    # siting → (best cost, its plan x)
        while self.iteration < self.max_iter:
            self.iteration += 1
            t0 = time.perf_counter()
            lb, x_out, y_out = self.master.solve()
            master_s = time.perf_counter() - t0
            self.master_s += master_s
            if binary:
                # One core per siting: the best plan priced with those sites. A mix of two sitings is no plan.
                y_out = np.round(y_out)
                sites = tuple(y_out.astype(int))
                mix = alpha if sites in site_cores else 1.0
                core = (site_cores[sites][1], y_out) if sites in site_cores else (x_out, y_out)
            else:
                core = (x_out, y_out) if core is None else core
                mix = alpha
            x_sep = mix * x_out + (1 - mix) * core[0]
            y_sep = mix * y_out + (1 - mix) * core[1]
            total, sols, sub_s = self.price(x_sep, y_sep)
            log.debug("y_out %s  mix %.2f", np.round(y_out, 3), mix)
            if binary and total < site_cores.get(sites, (np.inf,))[0]:
                site_cores[sites] = (total, x_sep)
            if alpha < 1.0:
                if not binary:
                    core = (0.5 * (core[0] + x_sep), 0.5 * (core[1] + y_sep))
                stall = stall + 1 if lb <= phase_lb + 1e-9 * abs(lb) else 0
                if stall >= STALL_ITERATIONS:
                    alpha = 1.0
            phase_lb = max(phase_lb, lb)
            phase_best = min(phase_best, total)
            if valid_ub and total < self.best[0]:
                self.best = (total, x_sep, y_sep, sols)
            self.lb = lb
            gap = self.record(name, lb, phase_best, master_s, sub_s)
            if gap <= self.tol:
                return "gap"
            if self.out_of_time():
                return "time_limit"
        return "max_iter"


def solve_benders(inst: Instance, tol: float | None = None, max_iter: int | None = None,
                  time_limit_s: float | None = None, multicut: bool | None = None,
                  lp_phase: bool | None = None, stabilisation: str | None = None) -> PlanResult:
    cfg = inst.case.benders
    pick = lambda value, default: default if value is None else value  # noqa: E731
    run = _Run(inst, pick(tol, cfg.tol), pick(max_iter, cfg.max_iter), pick(time_limit_s, cfg.time_limit_s),
               pick(multicut, cfg.multicut))
    stabilise = pick(stabilisation, cfg.stabilisation) == "in-out"
    fs = inst.first
    log.info("Benders on '%s': %d days, %d first-stage variables, %s; day models built in %.2f s",
             inst.case.name, len(inst.days), fs.n_x, "multi-cut" if run.master.multicut else "single-cut",
             run.evaluator.build_s)

    x0 = np.zeros(fs.n_x)
    y0 = fs.fixed_y.copy() if fs.siting == "fixed" else np.zeros(fs.n_storage)
    total, sols, sub_s = run.price(x0, y0)
    run.best = (total, x0, y0, sols)
    run.record("init", -np.inf, total, 0.0, sub_s)

    reason = "gap"
    if fs.siting == "binary" and pick(lp_phase, cfg.lp_phase):
        reason = run.phase("lp", integer=False, stabilise=stabilise, alpha=cfg.in_out_alpha)
    if reason == "gap":
        # With binary siting the LP phase's plans are fractional; integrality needs its own iterations.
        # Without binaries (relaxed or fixed siting) this phase is the whole run.
        if fs.siting == "binary" or run.iteration == 0:
            reason = run.phase("milp" if fs.siting == "binary" else "lp", integer=True,
                               stabilise=stabilise, alpha=cfg.in_out_alpha)

    ub, x, y, sols = run.best
    gap = relative_gap(run.lb, ub)
    converged = reason == "gap"
    log.info("Benders %s after %d iterations: gap %.2e (%s)", "converged" if converged else "stopped",
             run.iteration, gap, reason)
    return PlanResult(method="benders", x=x, y=y, investment_eur=fs.annual_cost(x, y), solutions=sols,
                      lower_bound=run.lb, upper_bound=ub, gap=gap, converged=converged, stop_reason=reason,
                      history=run.history,
                      timings={"total_s": time.perf_counter() - run.start, "build_s": run.evaluator.build_s,
                               "master_s": run.master_s, "subproblems_s": run.sub_s,
                               "subproblem_solver_s": run.evaluator.solver_s})
