"""Pricing a plan on every day, spread over ranks.

Rank 0 drives: it broadcasts a command buffer `[command, exit code or plan count, x̂…]`; every rank solves the
days it owns in the day pool (parallel/pool.py; models built lazily and kept, formulations/operation.DayModels);
values, subgradients and solve times come back to rank 0 with one buffer gather, in day order. Days are
assigned longest-processing-time first, first with equal weights, then once from the measured times of the
first priced master plan. With several plans a round (`benders.points_per_round` = P) and at least two ranks
per day, the ranks split into min(P, ranks // days) groups that each hold every day and price their plans
side by side; otherwise each rank prices its days at every plan of the round.
A failed solve on any rank stops every rank: rank 0 names the rank and day.

Spare work (`SpareWork`: the plan command's business-as-usual baseline, which does not depend on the plan): when
rank 0 is about to compute alone (the warm start) it lends the other ranks' time (`lend`); they do their share
until rank 0's next command arrives, and after the final plan the units left are spread by measured cost.
A warm start with other sitings (`benders.warm_start_within`) has many branch-and-bound nodes: rank 0 shares
them instead (`share_nodes`), each rank compiling the reduced problem for itself.
"""
from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from typing import Protocol

import numpy as np

from .. import interrupts
from ..formulations.extensive import branches, serve_nodes
from ..formulations.operation import DayModels, solve_day
from ..instance import Instance
from ..parallel import SerialComm, assign_spare
from ..parallel.pool import DayPool
from ..result import DaySolution
from .warmstart import reduced_instance

log = logging.getLogger(__name__)

# Commands in the header buffer (floats: buffers only): stop (with the exit code), price plans for cuts,
# re-assign the days, solve exactly and send the full solutions, do spare work until the next command, solve
# the warm start's branch-and-bound nodes until rank 0 stops them.
STOP, PRICE, REBALANCE, SOLUTIONS, LEND, NODES = 0.0, 1.0, 2.0, 3.0, 4.0, 5.0
_META = 2   # per-day row: [Q_ρ value, solve seconds, gradient…]
PlanTask = Callable[[int, int, np.ndarray, list[DaySolution], object], object]


class SpareWork(Protocol):
    """Work independent of the plan in `units` pieces (workflows/final.FinalDay: the baseline's days)."""
    units: int

    def lent(self) -> None:
        """Every rank, when rank 0 lends: from now on the evaluator hands the units out."""

    def do(self, unit: int) -> object:
        """One unit, on whichever rank it falls to; its result is sent to rank 0."""

    def collect(self, results: list, early: int) -> None:
        """Rank 0, after the final plan: every unit's result, in unit order; `early` of them were done while rank
        0 computed alone."""


class DayEvaluator:
    def __init__(self, inst: Instance, comm=None, day_task: Callable[[int, DaySolution], object] | None = None,
                 plan_task: PlanTask | None = None, plan_ranks: int | None = None, spare: SpareWork | None = None,
                 points: int = 1):
        """`day_task(d, solution)`: run on the rank that owns day d after the final exact solve (the plan command's
        AC check and baseline day, workflows/final.FinalDay), its result gathered with the solution.
        `plan_task(rank, size, x̂, solutions, shared)`: run on every rank once rank 0 holds every day's final
        solution (sent to ranks 1 … `plan_ranks` − 1, default all, with `solutions_at`'s `shared`), its results
        sent back to rank 0 (the plan command's figures, shared out); only with more than one rank. `spare`:
        work the other ranks may do while rank 0 computes alone (`lend`); only with more than one rank. Every
        rank passes the same tasks. `points`: the most plans a PRICE command carries (benders.points_per_round)."""
        self.inst, self.comm = inst, comm or SerialComm()
        self.day_task = day_task
        self.plan_task = plan_task if self.comm.size > 1 else None
        self.plan_ranks = min(self.comm.size, plan_ranks or self.comm.size)
        self.spare = spare if self.comm.size > 1 else None
        self.lent = False                          # every rank: rank 0 lent the others' time for `spare`
        self._spare_done: dict[int, tuple[bool, object]] = {}    # unit → (ok, result or traceback), done here
        self._spare_s: list[float] = []                           # seconds of each unit done here, in order
        self.task_results: list | None = None     # rank 0: day_task's result per day, after solutions_at
        self.plan_results: list | None = None     # rank 0: plan_task's result per rank, after solutions_at
        self.n_days, self.n_x, self.points = len(inst.days), inst.first.n_x, points
        self.pool = DayPool(self.comm, self.n_days, label=lambda d: inst.days[d].day,
                            groups=min(points, self.comm.size // self.n_days))
        self.models = DayModels(inst, len(self.pool.held()))
        self.busy_s = 0.0              # this rank's time in its own solves (cvxpy and Clarabel)
        self.solver_s = 0.0            # of which inside Clarabel
        self.day_s = np.zeros(self.n_days)
        self.last: dict[int, DaySolution] = {}   # this rank's solutions at the plan solved exactly (solutions_at)
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

    def _solve_one(self, d: int, x: np.ndarray, cut: bool) -> tuple[DaySolution, np.ndarray]:
        """Day d at x (`cut`: Benders pricing, else exact evaluation; see operation.constraint_copy) → (solution,
        row [Q_ρ value, seconds, gradient…])."""
        t0 = time.perf_counter()
        sol = solve_day(self.models(d), x, cut=cut)
        seconds = time.perf_counter() - t0
        self.busy_s += seconds
        self.solver_s += sol.solver_s
        self.retries += sol.retries
        return sol, np.concatenate([[sol.value_eur, seconds], sol.gradient])

    def _price_mine(self, plans: np.ndarray) -> np.ndarray | None:
        """This rank's share of the (plan, day) pairs priced for cuts, gathered: rows [failure code, Q_ρ value,
        seconds, gradient…], plan by plan and each in day order, on rank 0."""
        return self.pool.solve_plans(len(plans), lambda j, d: self._solve_one(d, plans[j], cut=True)[1],
                                     _META + self.n_x)

    def _solve_mine(self, x: np.ndarray) -> np.ndarray | None:
        """This rank's days at x exactly (kept in `last` for the day task), gathered as `_price_mine`'s rows."""
        self.last = {}

        def one(d: int) -> np.ndarray:
            self.last[d], row = self._solve_one(d, x, cut=False)
            return row

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
        pending = None                     # a header received during spare work
        while True:
            header = pending if pending is not None else self.comm.bcast(np.empty(2 + self.points * self.n_x))
            pending = None
            if header[0] == STOP:
                return int(header[1])
            if header[0] == REBALANCE:
                self.pool.reassign(np.zeros(self.n_days))     # rank 0's times are broadcast
                continue
            if header[0] == LEND:
                pending = self._spare_window()
                continue
            if header[0] == NODES:
                serve_nodes(reduced_instance(self.inst, int(header[1])), self.comm)
                continue
            if header[0] == SOLUTIONS:
                self._solve_mine(header[2:2 + self.n_x])
                self._gather_solutions()
                self._share_plan()
                self._finish_spare()
                continue
            self._price_mine(self._plans(header))
            self._gather_counters()

    # ---------------------------------------------------------------- rank 0

    def evaluate(self, plans: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """plans (p × n_x), p ≤ `points` → (Q_ρ,s(x̂_j) [EUR/day], p × days; g_js [EUR/day per unit x],
        p × days × n_x): a cut for each plan and day."""
        plans = np.atleast_2d(np.asarray(plans, dtype=float))
        self._command(PRICE, len(plans), plans.ravel())
        table = self._price_mine(plans)
        self.rank_busy_s, self.rank_retries = self._gather_counters().T
        rows = self.pool.check(table)           # after every collective of this command
        self.day_s = rows[:self.n_days, 1]      # the first plan's: every day once
        return rows[:, 0].reshape(len(plans), -1), rows[:, _META:].reshape(len(plans), self.n_days, self.n_x)

    def _plans(self, header: np.ndarray) -> np.ndarray:
        return header[2:2 + int(header[1]) * self.n_x].reshape(-1, self.n_x)

    def rebalance(self) -> None:
        """Re-assign days from the last measured solve times (LPT); the answer does not change."""
        if self.comm.size == 1:
            return
        self._command(REBALANCE, 0)
        self.pool.reassign(self.day_s)
        log.info("days re-assigned from measured times: %s", self.describe())

    def describe(self) -> str:
        """Each rank's days (in its group, with groups of ranks)."""
        owners, groups = self.pool.group_owners, self.pool.groups
        days = lambda r: [self.inst.days[d].day for d in np.flatnonzero(owners[r % groups] == r)]  # noqa: E731
        text = "; ".join(f"rank {r}: days {days(r)}" for r in range(self.comm.size))
        return text + (f" (ranks r ≡ g mod {groups} form group g)" if groups > 1 else "")

    def solutions_at(self, x_hat: np.ndarray, shared=None) -> list[DaySolution]:
        """Every day's full solution at x̂ exactly (no proximal slack at the boundary), solved where the day
        lives and gathered to rank 0 in day order; with `day_task`, run there too (`task_results`); then
        `plan_task` on every rank, given `shared` too (`plan_results`)."""
        self._command(SOLUTIONS, 0, x_hat)
        table = self._solve_mine(x_hat)
        pairs = self._gather_solutions()
        failed = True
        try:
            try:
                self.pool.check(table)
            except BaseException:
                self._share_plan(None)         # the other ranks wait for the plan: they hear there is none
                raise
            solutions = [sol for sol, _ in pairs]
            self.task_results = [result for _, result in pairs] if self.day_task is not None else None
            self.plan_results = self._share_plan((x_hat, solutions, shared))
            failed = False
        finally:
            self._finish_spare(abort=failed)   # every rank takes part; after a failure only to hear it
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

    def _lend(self) -> None:
        self.lent = True
        self.spare.lent()

    def _spare_window(self) -> np.ndarray:
        """Ranks > 0 after LEND: the units u ≡ rank − 1 (mod size − 1), one after another, until rank 0's next
        header arrives (polled between units) → that header."""
        self._lend()
        share = iter(range(self.comm.rank - 1, self.spare.units, self.comm.size - 1))

        def step() -> bool:
            unit = next(share, None)
            if unit is not None:
                self._do_spare(unit)
            return unit is not None

        return self.comm.bcast_while(np.empty(2 + self.n_x), step)

    def _do_spare(self, unit: int) -> None:
        t0 = time.perf_counter()
        try:
            self._spare_done[unit] = (True, self.spare.do(unit))
        except Exception:                  # rank 0 reports it, with the traceback, once every result is in
            self._spare_done[unit] = (False, traceback.format_exc())
        self._spare_s.append(time.perf_counter() - t0)

    def _finish_spare(self, abort: bool = False) -> None:
        """Every rank after the final plan's work, when rank 0 lent: the units not done yet spread over all ranks
        by measured cost (parallel.assign_spare), done, and every result sent to rank 0 (`spare.collect`).
        `abort` (rank 0: the final plan failed) releases the others instead."""
        if not self.lent:
            return
        n, size, times = self.spare.units, self.comm.size, self._spare_s
        done = np.zeros(n)
        done[list(self._spare_done)] = 1.0
        row = np.concatenate([done, [len(times), times[0] if times else 0.0, sum(times[1:])]])   # spare_owners
        table = self.comm.gather_rows(row[None, :], np.arange(size))
        plan = np.empty(1 + n)
        if self.comm.rank == 0:
            plan = np.concatenate([[float(abort)], spare_owners(table, n, size)])
        plan = self.comm.bcast(plan)
        if plan[0]:
            return
        owners = plan[1:].astype(int)
        mine = np.flatnonzero(owners == self.comm.rank)
        for unit in mine:
            if int(unit) not in self._spare_done:
                self._do_spare(int(unit))
        results = self.comm.gather_objects([self._spare_done[int(u)] for u in mine], owners)
        if self.comm.rank != 0:
            return
        for unit, (ok, value) in enumerate(results):
            if not ok:
                raise RuntimeError(f"rank {owners[unit]}: the spare work's unit {unit} failed:\n{value}")
        self.spare.collect([value for _, value in results], early=int(table[:, n].sum()))

    def _plan_task(self, plan: tuple) -> tuple[bool, object]:
        """(True, plan_task's result) or (False, its traceback): a failure must still reach rank 0."""
        try:
            return True, self.plan_task(self.comm.rank, self.comm.size, *plan)
        except Exception:
            return False, traceback.format_exc()

    def lend(self) -> None:
        """Rank 0, before it computes alone (the warm start): the other ranks do their share of the spare work
        until its next command."""
        if self.spare is not None:
            self._command(LEND, 0)
            self._lend()

    def share_nodes(self, days: int) -> object | None:
        """Rank 0, before the warm start's branch-and-bound on the days reduced to `days`: the other ranks solve
        its nodes with it (extensive.serve_nodes) → the comm to pass to solve_extensive(started=True), or None
        where there is no one to share with or nothing to branch on."""
        if self.comm.size == 1 or not branches(self.inst):
            return None
        self._command(NODES, days)
        return self.comm

    def stop(self, code: int) -> None:
        """Release the other ranks; they exit with `code`."""
        self._command(STOP, code)

    def _command(self, command: float, code: int, x: np.ndarray | None = None) -> None:
        """`code`: the exit code (STOP), the number of plans in `x` (PRICE) or of reduced days (NODES)."""
        if self.comm.size > 1:
            header = np.zeros(2 + self.points * self.n_x)
            header[:2] = command, code
            if x is not None:
                header[2:2 + len(x)] = x
            self.comm.bcast(header)


def spare_owners(table: np.ndarray, units: int, size: int) -> np.ndarray:
    """Owners of the spare units from each rank's row [done mask (units), count, first unit's s, the others' s]:
    a unit's set-up is what its first took beyond a later one (the model built once); with no later unit timed
    the set-up is taken as 0 and every unit as long as a first."""
    done, count, first_s, rest_s = table[:, :units], table[:, units], table[:, units + 1], table[:, units + 2]
    done_by = np.where(done.any(axis=0), np.argmax(done, axis=0), -1)
    later = count - np.minimum(count, 1)
    started = count > 0
    unit_s = rest_s.sum() / later.sum() if later.sum() else (first_s[started].mean() if started.any() else 1.0)
    setup_s = max(0.0, first_s[started].mean() - unit_s) if later.sum() else 0.0
    return assign_spare(done_by, setup_s, unit_s, size).astype(float)
