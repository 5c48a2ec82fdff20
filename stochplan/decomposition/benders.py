"""Benders decomposition (L-shaped, multi-cut by default) of the two-stage planning problem.

LB = master optimum; UB = best cᵀx̂ + c_yᵀŷ + 365 Σ_s π_s Q_ρ,s(x̂) over priced plans that are feasible for
the master; stop when (UB − LB)/|UB| ≤ tol, at `max_iter` master solves, or past `time_limit_s`.
Q_ρ is the day's cost priced through the proximal copy (formulations/operation.py: constraint_copy): ≤ Q and
within ~1e-7 of it, so cuts are valid and the bounds honest; the final plan is then evaluated exactly.

Each iteration: the master (MILP, or its LP relaxation in the optional LP phase) gives the LB and a siting;
if the best plan is already within the tolerance of it, the run stops without pricing again; otherwise the
stabiliser (stabilisation.py: level, interior-level, trust-region, in-out, none) picks the plan to price,
every day is priced at it (one cut per day; single-cut sums them) and the best plan is updated. With
`benders.points_per_round` = P > 1 the stabiliser adds up to P − 1 more plans, priced in the same round (side
by side where the ranks outnumber the days, evaluator.py).

- Iteration 0 prices "build nothing", or with `benders.warm_start_days` the exact plan of the days reduced to
  a few (warmstart.py) — with `benders.warm_start_within` also the other sitings' within that margin — so every
  θ_s has a cut before the first master solve.
- LP phase (option, binary siting only): first converge on the master's LP relaxation, whose cuts stay
  valid, then restore integrality. Its plans are fractional, so they never become the incumbent.

Only rank 0 runs this loop; the other ranks serve day solves (evaluator.py). After every iteration
rank 0 writes a checkpoint (checkpoint.py) when given a directory; a run resumes from it exactly.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import interrupts
from ..errors import InputError
from ..formulations.master import Master
from ..instance import Instance
from ..parallel import get_comm
from ..result import DAYS_PER_YEAR, Iteration, PlanResult
from . import checkpoint
from .evaluator import DayEvaluator
from .stabilisation import make as make_stabiliser
from .warmstart import warm_start

log = logging.getLogger(__name__)
EXIT_CODES = {"gap": 0, "max_iter": 1, "time_limit": 1, "stop_after": 4, "SIGINT": 130, "SIGTERM": 143}


def relative_gap(lb: float, ub: float) -> float:
    return (ub - lb) / max(abs(ub), 1.0)


@dataclass
class LoopState:
    """Everything the loop needs to continue exactly where it stopped (saved in checkpoints)."""
    iteration: int = 0
    phase: str = "init"
    lb: float = -np.inf
    best_ub: float = np.inf
    best_x: np.ndarray | None = None
    best_y: np.ndarray | None = None
    phase_lb: float = -np.inf
    phase_best: float = np.inf                       # best priced value in this phase (fractional in the LP one)
    phase_best_x: np.ndarray | None = None
    phase_best_y: np.ndarray | None = None
    stab: dict = field(default_factory=dict)         # the stabiliser's state
    priced: list = field(default_factory=list)       # [x, values, grads] of every priced plan (the cuts)
    history: list = field(default_factory=list)
    master_s: float = 0.0
    sub_s: float = 0.0
    rebalanced: bool = False
    finished: str | None = None                      # the stop reason once the loop has ended
    multicut: bool = True
    warm_start: dict | None = None                   # the warm start's days and value (warmstart.py)
    warm_start_s: float = 0.0

    def to_json(self) -> dict:
        out = dict(self.__dict__)
        out["history"] = [h.__dict__ for h in self.history]
        return out

    @classmethod
    def from_json(cls, data: dict, schema: checkpoint.Schema) -> "LoopState":
        """Check every field against `schema` (sizes of this run's x, y and days), then build the state."""
        n_x, n_days, n_y = schema.n_x, schema.n_days, schema.n_sites
        s = cls()
        for key in ("iteration", "lb", "best_ub", "phase_lb", "phase_best", "master_s", "sub_s", "warm_start_s"):
            setattr(s, key, schema.number(schema.get(data, key, "state"), f"state.{key}"))
        s.iteration = int(s.iteration)
        s.phase = schema.get(data, "phase", "state")
        if s.phase not in ("init", "lp", "milp"):
            schema.fail("state.phase", f"is '{s.phase}'")
        for key in ("rebalanced", "multicut"):
            setattr(s, key, schema.get(data, key, "state"))
            if not isinstance(getattr(s, key), bool):
                schema.fail(f"state.{key}", "must be true or false")
        s.finished = data.get("finished")
        s.warm_start = data.get("warm_start")
        if s.warm_start is not None:
            if not isinstance(s.warm_start, dict):
                schema.fail("state.warm_start", "must be an object or null")
            for key in ("value_eur", "nodes"):
                s.warm_start[key] = schema.number(schema.get(s.warm_start, key, "state.warm_start"),
                                                  f"state.warm_start.{key}")
        if s.finished not in (None, *EXIT_CODES):
            schema.fail("state.finished", f"is '{s.finished}'")
        for key, length in (("best_x", n_x), ("phase_best_x", n_x), ("best_y", n_y), ("phase_best_y", n_y)):
            setattr(s, key, schema.vector(schema.get(data, key, "state"), length, f"state.{key}", optional=True))
        s.stab = schema.get(data, "stab", "state")
        if not isinstance(s.stab, dict):
            schema.fail("state.stab", "must be an object")
        for key in ("gamma", "radius", "alpha", "stall", "phase_lb", "level", "predicted"):   # the stabilisers'
            if s.stab.get(key) is not None:                                                    # numbers
                s.stab[key] = schema.number(s.stab[key], f"state.stab.{key}")
        for key in ("core_x", "core_y"):
            if s.stab.get(key) is not None:
                s.stab[key] = list(schema.vector(s.stab[key], n_x if key == "core_x" else n_y, f"state.stab.{key}"))
        for key in ("site_cores", "site_centres"):                  # in-out's and level's per-siting plans
            per_siting = s.stab.get(key, {})
            if not isinstance(per_siting, dict):
                schema.fail(f"state.stab.{key}", "must be an object")
            for siting, entry in per_siting.items():
                where = f"state.stab.{key}.{siting}"
                if not isinstance(entry, list) or len(entry) != 2:
                    schema.fail(where, "must hold a plan's cost and its sizes")
                per_siting[siting] = [schema.number(entry[0], where), list(schema.vector(entry[1], n_x, where))]
        priced = schema.get(data, "priced", "state")
        if not isinstance(priced, list) or not priced:
            schema.fail("state.priced", "must be a non-empty list")
        s.priced = []
        for j, entry in enumerate(priced):
            if not isinstance(entry, list) or len(entry) != 3:
                schema.fail(f"state.priced[{j}]", "must hold a plan, its day values and its gradients")
            s.priced.append([schema.vector(entry[0], n_x, f"state.priced[{j}][0]"),
                             schema.vector(entry[1], n_days, f"state.priced[{j}][1]"),
                             schema.matrix(entry[2], (n_days, n_x), f"state.priced[{j}][2]")])
        history = schema.get(data, "history", "state")
        if not isinstance(history, list) or len(history) != s.iteration + 1:
            schema.fail("state.history", f"must have one entry per iteration 0..{s.iteration}")
        try:
            s.history = [Iteration(**{k: schema.number(v, f"state.history[{j}].{k}") if k not in ("iteration", "phase")
                                      else v for k, v in h.items()}) for j, h in enumerate(history)]
        except (TypeError, AttributeError) as exc:
            schema.fail("state.history", f"has a bad entry ({exc})")
        if s.best_x is None or s.best_y is None:
            schema.fail("state.best_x", "is missing (no plan was priced)")
        return s


class _Run:
    def __init__(self, inst: Instance, evaluator: DayEvaluator, tol, max_iter, time_limit_s, multicut,
                 stabiliser, checkpoint_dir, stop_after, fingerprint, points: int = 1):
        self.inst, self.fs, self.evaluator = inst, inst.first, evaluator
        self.tol, self.max_iter, self.time_limit_s = tol, max_iter, time_limit_s
        self.checkpoint_dir, self.stop_after = checkpoint_dir, stop_after
        self.fingerprint = fingerprint
        self.weights = np.array([d.weight for d in inst.days])
        self.master = Master(self.fs, self.weights, multicut=multicut)
        self.stab, self.points = stabiliser, points
        self.state = LoopState(multicut=multicut)
        self.start = time.perf_counter()
        self.iterations_this_run = 0

    # ------------------------------------------------------------------ pieces

    def price(self, plans: list[tuple[np.ndarray, np.ndarray]]) -> tuple[list[float], float]:
        """Every plan (x, y) on every day, in one command; their cuts added → (each plan's cost [EUR/year],
        seconds)."""
        t0 = time.perf_counter()
        values, grads = self.evaluator.evaluate(np.array([x for x, _ in plans]))
        totals = []
        for (x, y), value, grad in zip(plans, values, grads):
            self.master.add_cuts(x, value, grad)
            self.state.priced.append([x, value, grad])
            totals.append(self.fs.annual_cost(x, y) + DAYS_PER_YEAR * float(self.weights @ value))
        elapsed = time.perf_counter() - t0
        self.state.sub_s += elapsed
        return totals, elapsed

    def improve(self, total, x, y) -> None:
        if total < self.state.best_ub:
            self.state.best_ub, self.state.best_x, self.state.best_y = total, x, y

    def keep(self, total, x, y, valid_ub: bool) -> None:
        """A priced plan: the phase's best if it is better, and the run's where its sites are integral."""
        s = self.state
        if total < s.phase_best:
            s.phase_best, s.phase_best_x, s.phase_best_y = total, x, y
        if valid_ub:
            self.improve(total, x, y)

    def record(self, lb, ub, master_s, sub_s, plans: int = 1) -> float:
        s = self.state
        gap = relative_gap(lb, ub) if np.isfinite(lb) else np.inf
        s.history.append(Iteration(s.iteration, lb, ub, gap, master_s, sub_s, s.phase))
        log.info("iter %3d %-4s LB %14.2f  UB %14.2f  gap %9.2e  master %6.2fs  subproblems %6.2fs  %s%s",
                 s.iteration, s.phase, lb, ub, gap, master_s, sub_s, self.stab.summary(),
                 f"  plans {plans}" if self.points > 1 or plans > 1 else "")
        self.save()
        return gap

    def save(self) -> None:
        if self.checkpoint_dir is not None:
            self.state.stab = self.stab.state
            checkpoint.save(self.checkpoint_dir, {"fingerprint": self.fingerprint, "state": self.state.to_json()})

    def should_stop(self) -> str | None:
        if interrupts.requested():
            return interrupts.requested()
        if self.stop_after is not None and self.iterations_this_run >= self.stop_after:
            return "stop_after"
        if time.perf_counter() - self.start > self.time_limit_s:
            return "time_limit"
        return None

    # ------------------------------------------------------------------ loop

    def initial(self, warm_days: int, within: float = 0.0) -> None:
        """Iteration 0: price "build nothing", or the warm start's plans (`warm_days` > 0, and with `within` > 0
        the other sitings' within that margin; its time is counted as master time, first-stage work on rank 0),
        at most `points` a command."""
        warm = warm_start(self.inst, warm_days, before=self.evaluator.lend, within=within,
                          share=self.evaluator.share_nodes)
        if warm is None:
            y0 = self.fs.fixed_y.copy() if self.fs.siting == "fixed" else np.zeros(self.fs.n_storage)
            plans = [(np.zeros(self.fs.n_x), y0)]
        else:
            plans = warm.plans
            self.state.warm_start, self.state.warm_start_s = warm.to_json(), warm.seconds
            self.state.master_s += warm.seconds
        sub_s = 0.0
        for first in range(0, len(plans), self.points):
            chunk = plans[first:first + self.points]
            totals, seconds = self.price(chunk)
            sub_s += seconds
            for total, (x, y) in zip(totals, chunk):
                self.improve(total, x, y)
        self.record(-np.inf, self.state.best_ub, warm.seconds if warm else 0.0, sub_s, len(plans))

    def resume(self, state: LoopState) -> None:
        self.state = state
        self.stab.state = state.stab
        for x, values, grads in self.state.priced:
            self.master.add_cuts(x, values, grads)
        log.info("resumed at iteration %d (%s phase) with %d priced plans; LB %.2f, UB %.2f", self.state.iteration,
                 self.state.phase, len(self.state.priced), self.state.lb, self.state.best_ub)

    def phase(self, name: str, integer: bool, fresh: bool) -> str:
        """Master/subproblem iterations until the phase's gap ≤ tol; → stop reason."""
        s = self.state
        self.master.set_integrality(integer)
        binary = integer and self.fs.siting == "binary"
        valid_ub = integer or self.fs.siting != "binary"      # LP-phase plans have fractional sites
        if fresh:
            s.phase, s.phase_lb = name, -np.inf
            s.phase_best, s.phase_best_x, s.phase_best_y = (s.best_ub, s.best_x, s.best_y) if valid_ub else (
                np.inf, None, None)
            self.stab.start_phase()
        while s.iteration < self.max_iter:
            s.iteration += 1
            self.iterations_this_run += 1
            t0 = time.perf_counter()
            lb, x_m, y_m = self.master.solve()
            if binary:
                y_m = np.round(y_m)
            s.phase_lb = max(s.phase_lb, lb)
            s.lb = max(s.lb, lb)                                # an LP-phase bound is valid for the MILP too
            if relative_gap(s.phase_lb, s.phase_best) <= self.tol:   # the best plan is proven: no pricing
                s.master_s += time.perf_counter() - t0
                self.record(s.phase_lb, s.phase_best, time.perf_counter() - t0, 0.0)
                return "gap"
            x, y = self.stab.point(self.master, s.phase_best_x, s.phase_lb, s.phase_best, x_m, y_m, integer)
            extra = self.stab.extra_points(self.master, s.phase_best_x, s.phase_lb, s.phase_best, x, x_m, y_m,
                                           integer, self.points - 1, self.tol) if self.points > 1 else []
            master_s = time.perf_counter() - t0
            s.master_s += master_s
            (total, *extra_totals), sub_s = self.price([(x, y), *extra])
            if s.iteration == 1 and not s.rebalanced:
                self.evaluator.rebalance()
                s.rebalanced = True
            ub_before = s.phase_best
            self.keep(total, x, y, valid_ub)
            self.stab.priced(total, s.phase_lb, ub_before, s.phase_best, x, y, integer)
            for (x_j, y_j), total_j in zip(extra, extra_totals):    # after the first: it alone steers the step
                self.keep(total_j, x_j, y_j, valid_ub)
                self.stab.seen(total_j, x_j, y_j, integer)
            if self.record(s.phase_lb, s.phase_best, master_s, sub_s, 1 + len(extra)) <= self.tol:
                return "gap"
            if (reason := self.should_stop()) is not None:
                return reason
        return "max_iter"

    def run(self, lp_phase: bool) -> str:
        binary = self.fs.siting == "binary"
        phases = ([("lp", False)] if binary and lp_phase else []) + [("milp" if binary else "lp", True)]
        names = [name for name, _ in phases]
        first = names.index(self.state.phase) if self.state.phase in names else 0   # a resumed run goes on
        for i in range(first, len(phases)):
            name, integer = phases[i]
            fresh = not (i == first and self.state.phase == name)
            reason = self.phase(name, integer, fresh)
            if reason != "gap":
                return reason
        return "gap"


def solve_benders(inst: Instance, tol: float | None = None, max_iter: int | None = None,
                  time_limit_s: float | None = None, multicut: bool | None = None,
                  lp_phase: bool | None = None, stabilisation: str | None = None,
                  checkpoint_dir: Path | None = None, resume: LoopState | None = None,
                  stop_after: int | None = None, fingerprint: dict | None = None, comm=None,
                  day_task=None, plan_task=None, plan_ranks: int | None = None, spare=None,
                  warm_start_days: int | None = None, points_per_round: int | None = None,
                  warm_start_within: float | None = None) -> PlanResult | int:
    """Rank 0: run Benders and → PlanResult. Other ranks: serve day solves and → the exit code.

    `resume` is the state of a checkpoint (`resume_state`; its fingerprint already compared with
    `fingerprint`, which is saved in every new checkpoint). SIGINT/SIGTERM during the loop let the iteration
    finish and its checkpoint be written; then `interrupts.Interrupted` is raised. A checkpoint of a run that
    converged resumes without another iteration. `day_task(d, solution)` runs on the rank that owns day d at
    the final plan (the AC check and baseline day; see DayEvaluator); its results come back in
    `PlanResult.day_results`. `plan_task(rank, size, x̂, solutions, history)` runs on ranks 0 …
    `plan_ranks` − 1 (default all) once the final solutions are known, with more than one rank (the figures);
    its results, by rank, in `PlanResult.rank_results`. `spare` (evaluator.SpareWork): work the other ranks do
    while rank 0 computes the warm start, its results handed to `spare.collect` on rank 0 after the loop."""
    comm = comm or get_comm()
    points = inst.case.benders.points_per_round if points_per_round is None else points_per_round
    tasks = {"day_task": day_task, "plan_task": plan_task, "plan_ranks": plan_ranks, "spare": spare,
             "points": points}
    with comm.serving(lambda: DayEvaluator(inst, comm, **tasks).serve()):    # forked workers' ranks
        return _solve_benders(inst, tol, max_iter, time_limit_s, multicut, lp_phase, stabilisation, checkpoint_dir,
                              resume, stop_after, fingerprint, comm, tasks, warm_start_days, warm_start_within)


def _solve_benders(inst, tol, max_iter, time_limit_s, multicut, lp_phase, stabilisation, checkpoint_dir, resume,
                   stop_after, fingerprint, comm, tasks: dict, warm_start_days, warm_start_within) -> PlanResult | int:
    cfg = inst.case.benders
    pick = lambda value, default: default if value is None else value  # noqa: E731
    evaluator = DayEvaluator(inst, comm, **tasks)
    if comm.rank != 0:
        return evaluator.serve()

    code = 3
    stabiliser = make_stabiliser(pick(stabilisation, cfg.stabilisation), cfg.in_out_alpha)
    run = _Run(inst, evaluator, pick(tol, cfg.tol), pick(max_iter, cfg.max_iter),
               pick(time_limit_s, cfg.time_limit_s), pick(multicut, cfg.multicut), stabiliser, checkpoint_dir,
               stop_after, fingerprint, points=tasks["points"])
    try:
        with interrupts.deferred():
            log.info("Benders on '%s': %d days on %d rank(s)%s, %d first-stage variables, %s, %s stabilisation%s",
                     inst.case.name, len(inst.days), comm.size,
                     " (forked workers)" if comm.backend == "fork" else "", inst.first.n_x,
                     "multi-cut" if run.master.multicut else "single-cut", stabiliser.kind,
                     f", up to {run.points} plans a round on {evaluator.pool.groups} group(s) of ranks"
                     if run.points > 1 else "")
            fit = comm.size // len(inst.days)            # groups of ranks that would each hold every day
            if fit > evaluator.pool.groups:
                log.info("%d ranks for %d days: ranks beyond the days wait in every round; benders.points_per_round "
                         "= %d would price that many plans a round side by side (README, Running on a cluster)",
                         comm.size, len(inst.days), fit)
            if resume is not None:
                if resume.multicut != run.master.multicut:
                    raise InputError("--resume", "the checkpoint used a different cut type (benders.multicut)")
                run.resume(resume)
            else:
                run.initial(pick(warm_start_days, cfg.warm_start_days), pick(warm_start_within, cfg.warm_start_within))
            s = run.state
            if s.finished == "gap" and s.history[-1].gap <= run.tol:
                reason = "gap"
                log.info("the checkpoint holds a converged run: no further iteration")
            else:
                reason = run.run(pick(lp_phase, cfg.lp_phase))
            s.finished = reason
            run.save()
            loop_end = time.perf_counter()
            solutions = evaluator.solutions_at(s.best_x, shared=s.history) \
                if reason in ("gap", "max_iter", "time_limit") else []
            final_s = time.perf_counter() - loop_end
            code = EXIT_CODES[reason]
    finally:
        evaluator.stop(code)

    gap = relative_gap(s.lb, s.best_ub)
    converged = reason == "gap"
    log.info("Benders %s after %d iterations: gap %.2e (%s); rank busy time max/mean %.2f",
             "converged" if converged else "stopped", s.iteration, gap, reason, load_balance(evaluator))
    sitings = siting_bounds(run, reason) if solutions else None
    exact = exactness(inst, s, solutions)
    if solutions:
        log.info("exact evaluation of the plan: %.2f EUR/year (%+.1e relative to the priced upper bound; largest "
                 "proximal residue %.1e)", exact["total_eur"], exact["upper_bound_difference"],
                 exact["max_residue"])
    return PlanResult(method="benders", x=s.best_x, y=s.best_y, investment_eur=inst.first.annual_cost(s.best_x, s.best_y),
                      solutions=solutions, lower_bound=s.lb, upper_bound=s.best_ub, gap=gap, converged=converged,
                      stop_reason=reason, history=s.history, exactness=exact,
                      day_results=evaluator.task_results if solutions else None, siting_bounds=sitings,
                      rank_results=evaluator.plan_results if solutions else None,
                      warm_start=s.warm_start, plans_priced=len(s.priced),
                      timings={"total_s": time.perf_counter() - run.start, "loop_s": loop_end - run.start,
                               "final_s": final_s, "build_s": evaluator.build_s,
                               "warm_start_s": s.warm_start_s,
                               "master_s": s.master_s, "subproblems_s": s.sub_s,
                               "subproblem_busy_s": evaluator.busy_s, "subproblem_solver_s": evaluator.solver_s,
                               "ranks": comm.size, "ranks_backend": comm.backend,
                               "solver_retries": int(np.sum(evaluator.rank_retries)),
                               "load_balance_max_over_mean": load_balance(evaluator)})


def siting_bounds(run: _Run, reason: str) -> list[dict] | None:
    """Every feasible siting's least possible cost under the run's cuts, lowest first: no plan with exactly those
    sites costs less [EUR/year] (`lower_bound`; `over_plan`: relative to the plan's priced cost). From the last
    master solve, one LP per siting (Master.siting_bounds), or one more solve where the loop ended without one (a
    converged checkpoint resumed); None where the master is a MILP (more sitings than ENUMERATE_SITINGS) or
    the loop stopped in the LP phase."""
    master, s = run.master, run.state
    if master.sitings is None or s.phase != "milp":
        return None
    if master.siting_bounds is None:
        master.set_integrality(True)
        master.solve()
    buses = np.asarray(run.fs.storage_buses)
    chosen = np.round(s.best_y).astype(bool)
    rows = [{"storage_buses": buses[sites > 0.5].tolist(), "lower_bound": float(bound),
             "over_plan": float((bound - s.best_ub) / abs(s.best_ub)),
             "chosen": bool(np.array_equal(sites > 0.5, chosen))}
            for sites, bound in zip(master.sitings, master.siting_bounds) if np.isfinite(bound)]
    rows.sort(key=lambda row: row["lower_bound"])
    others = [row for row in rows if not row["chosen"]]
    if others:
        log.info("no other siting can do better than %.2f EUR/year (%+.2e of the plan; storage at bus(es) %s)%s",
                 others[0]["lower_bound"], others[0]["over_plan"],
                 ", ".join(map(str, others[0]["storage_buses"])) or "none",
                 "" if reason == "gap" else ", a bound of a stopped run")
    return rows


def exactness(inst: Instance, s: LoopState, solutions: list) -> dict:
    """How the priced bounds relate to the exact model at the final plan (no free capacity, no slack)."""
    if not solutions:
        return {}
    weights = np.array([d.weight for d in inst.days])
    total = inst.first.annual_cost(s.best_x, s.best_y) + DAYS_PER_YEAR * float(weights @ [d.cost_eur
                                                                                       for d in solutions])
    return {"total_eur": total, "upper_bound_difference": (total - s.best_ub) / max(abs(total), 1.0),
            "gap_to_exact": relative_gap(s.lb, total), "max_residue": max(d.residue for d in solutions),
            "capacity_floor": inst.case.model.capacity_floor}


def resume_state(saved: dict, inst: Instance, path: Path) -> LoopState:
    """The loop state of a loaded checkpoint, checked against this instance's sizes (before any solve)."""
    schema = checkpoint.Schema(path, inst.first.n_x, len(inst.days), inst.first.n_storage)
    return LoopState.from_json(schema.get(saved, "state", ""), schema)


def load_balance(evaluator: DayEvaluator) -> float:
    busy = evaluator.rank_busy_s
    if np.mean(busy) == 0:
        return 1.0
    return float(np.max(busy) / np.mean(busy))
