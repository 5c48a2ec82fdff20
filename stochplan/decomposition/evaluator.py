"""Pricing a plan on every day, spread over ranks.

Rank 0 drives: it broadcasts a command buffer `[command, exit code, x̂…]`; every rank solves the days it owns
in the day pool (parallel/pool.py; models built lazily and kept, formulations/operation.DayModels); values,
subgradients and solve times come back to rank 0 with one buffer gather, in day order. Days are assigned
longest-processing-time first, first with equal weights, then once from the measured times of the first priced
master plan.
A failed solve on any rank stops every rank: rank 0 names the rank and day.
"""
from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable

import numpy as np

from .. import interrupts
from ..formulations.operation import DayModels, solve_day
from ..instance import Instance
from ..parallel import SerialComm
from ..parallel.pool import DayPool
from ..result import DaySolution

log = logging.getLogger(__name__)

# Commands in the header buffer (floats: buffers only): stop (with the exit code), price a plan for cuts,
# re-assign the days, solve exactly and send the full solutions.
STOP, PRICE, REBALANCE, SOLUTIONS = 0.0, 1.0, 2.0, 3.0
_META = 2   # per-day row: [Q_ρ value, solve seconds, gradient…]
PlanTask = Callable[[int, int, np.ndarray, list[DaySolution], object], object]


class DayEvaluator:
    def __init__(self, inst: Instance, comm=None, day_task: Callable[[int, DaySolution], object] | None = None,
                 plan_task: PlanTask | None = None, plan_ranks: int | None = None):
        """`day_task(d, solution)`: run on the rank that owns day d after the final exact solve (the plan command's
        AC check and baseline day, workflows/final.FinalDay), its result gathered with the solution.
        `plan_task(rank, size, x̂, solutions, shared)`: run on every rank once rank 0 holds every day's final
        solution (sent to ranks 1 … `plan_ranks` − 1, default all, with `solutions_at`'s `shared`), its results
        sent back to rank 0 (the plan command's figures, shared out); only with more than one rank. Every rank
        passes the same tasks."""
        self.inst, self.comm = inst, comm or SerialComm()
        self.day_task = day_task
        self.plan_task = plan_task if self.comm.size > 1 else None
        self.plan_ranks = min(self.comm.size, plan_ranks or self.comm.size)
        self.task_results: list | None = None     # rank 0: day_task's result per day, after solutions_at
        self.plan_results: list | None = None     # rank 0: plan_task's result per rank, after solutions_at
        self.n_days, self.n_x = len(inst.days), inst.first.n_x
        self.pool = DayPool(self.comm, self.n_days, label=lambda d: inst.days[d].day)
        self.models = DayModels(inst, len(self.pool.mine()))
        self.busy_s = 0.0              # this rank's time in its own solves (cvxpy and Clarabel)
        self.solver_s = 0.0            # of which inside Clarabel
        self.day_s = np.zeros(self.n_days)
        self.last: dict[int, DaySolution] = {}   # this rank's solutions at the last priced plan
        self.retries = 0                          # Clarabel retries in this rank's solves
        self.rank_busy_s = np.zeros(self.comm.size)   # rank 0: every rank's busy seconds and retries,
        self.rank_retries = np.zeros(self.comm.size)  # as of the last priced plan

    # ---------------------------------------------------------------- every rank

    @property
    def owners(self) -> np.ndarray:
        return self.pool.owners

    @property
    def build_s(self) -> float:
        return self.models.build_s

    def _solve_mine(self, x: np.ndarray, cut: bool = True) -> np.ndarray | None:
        """This rank's days at x (`cut`: Benders pricing, else exact evaluation; see operation.constraint_copy),
        gathered: rows [failure code, Q_ρ value, seconds, gradient…] in day order on rank 0."""
        self.last = {}

        def one(d: int) -> np.ndarray:
            t0 = time.perf_counter()
            sol = solve_day(self.models(d), x, cut=cut)
            seconds = time.perf_counter() - t0
            self.busy_s += seconds
            self.solver_s += sol.solver_s
            self.retries += sol.retries
            self.last[d] = sol
            return np.concatenate([[sol.value_eur, seconds], sol.gradient])

        return self.pool.solve(one, _META + self.n_x)

    def _gather_counters(self):
        """(ranks × 2): each rank's busy seconds and Clarabel retries, to rank 0."""
        row = np.array([[self.busy_s, self.retries]])
        return self.comm.gather_rows(row, np.arange(self.comm.size))

    def _gather_solutions(self) -> list | None:
        """Each of this rank's days as (solution, day_task's result or None) → all of them on rank 0."""
        task = self.day_task
        mine = [(self.last.get(int(d)), task(int(d), self.last[int(d)]) if task and int(d) in self.last else None)
                for d in self.pool.mine()]
        return self.comm.gather_objects(mine, self.owners)

    def serve(self) -> int:
        """Ranks > 0: obey rank 0 until it says stop. → the exit code rank 0 chose.

        SIGINT/SIGTERM are ignored here: launchers forward them to every rank, and rank 0 stops the run
        at the end of the iteration (checkpoint written), then releases the others."""
        interrupts.ignore()
        while True:
            header = self.comm.bcast(np.empty(2 + self.n_x))
            if header[0] == STOP:
                return int(header[1])
            if header[0] == REBALANCE:
                self.pool.reassign(np.zeros(self.n_days))     # rank 0's times are broadcast
                continue
            if header[0] == SOLUTIONS:
                self._solve_mine(header[2:], cut=False)
                self._gather_solutions()
                self._share_plan()
                continue
            self._solve_mine(header[2:])
            self._gather_counters()

    # ---------------------------------------------------------------- rank 0

    def evaluate(self, x_hat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """→ (Q_ρ,s(x̂) [EUR/day], g_s [EUR/day per unit x]) for every day, in day order: a cut for each."""
        self._command(PRICE, 0, x_hat)
        table = self._solve_mine(x_hat)
        self.rank_busy_s, self.rank_retries = self._gather_counters().T
        rows = self.pool.check(table)           # after every collective of this command
        self.day_s = rows[:, 1]
        return rows[:, 0], rows[:, _META:]

    def rebalance(self) -> None:
        """Re-assign days from the last measured solve times (LPT); the answer does not change."""
        if self.comm.size == 1:
            return
        self._command(REBALANCE, 0)
        self.pool.reassign(self.day_s)
        log.info("days re-assigned from measured times: %s", self.describe())

    def describe(self) -> str:
        return "; ".join(f"rank {r}: days {[self.inst.days[d].day for d in np.flatnonzero(self.owners == r)]}"
                         for r in range(self.comm.size))

    def solutions_at(self, x_hat: np.ndarray, shared=None) -> list[DaySolution]:
        """Every day's full solution at x̂ exactly (no proximal slack at the boundary), solved where the day
        lives and gathered to rank 0 in day order; with `day_task`, run there too (`task_results`); then
        `plan_task` on every rank, given `shared` too (`plan_results`)."""
        self._command(SOLUTIONS, 0, x_hat)
        table = self._solve_mine(x_hat, cut=False)
        pairs = self._gather_solutions()
        try:
            self.pool.check(table)
        except BaseException:
            self._share_plan(None)         # the other ranks wait for the plan: they hear there is none
            raise
        solutions = [sol for sol, _ in pairs]
        self.task_results = [result for _, result in pairs] if self.day_task is not None else None
        self.plan_results = self._share_plan((x_hat, solutions, shared))
        return solutions

    def _share_plan(self, plan: tuple | None = None) -> list | None:
        """Ranks 0 … plan_ranks − 1: the final plan and solutions from rank 0 (`plan`: None when a day failed
        there), plan_task on each, its result back to rank 0 → rank 0: the results by rank. Point to point, so
        that only the ranks that take part receive the solutions (a year of them on a large feeder is hundreds
        of MB). A task that fails on any rank raises RuntimeError on rank 0 with its traceback, once every
        result is in (each rank must hear from rank 0, and rank 0 from each)."""
        if self.plan_task is None or self.comm.rank >= self.plan_ranks:
            return None
        others = range(1, self.plan_ranks)
        if self.comm.rank != 0:
            plan = self.comm.recv_object(0)
            if plan is not None:
                self.comm.send_object(self._plan_task(plan), 0)
            return None
        for rank in others:
            self.comm.send_object(plan, rank)
        if plan is None:
            return None
        parts = [self._plan_task(plan)] + [self.comm.recv_object(rank) for rank in others]
        for rank, (ok, value) in enumerate(parts):
            if not ok:
                raise RuntimeError(f"rank {rank}: the work on the final plan failed:\n{value}")
        return [value for _, value in parts]

    def _plan_task(self, plan: tuple) -> tuple[bool, object]:
        """(True, plan_task's result) or (False, its traceback): a failure must still reach rank 0."""
        try:
            return True, self.plan_task(self.comm.rank, self.comm.size, *plan)
        except Exception:
            return False, traceback.format_exc()

    def stop(self, code: int) -> None:
        """Release the other ranks; they exit with `code`."""
        self._command(STOP, code)

    def _command(self, command: float, code: int, x_hat: np.ndarray | None = None) -> None:
        if self.comm.size > 1 or command in (PRICE, SOLUTIONS):
            x = np.zeros(self.n_x) if x_hat is None else x_hat
            self.comm.bcast(np.concatenate([[command, float(code)], x]))
