"""Pricing a plan on every day, spread over ranks.

Rank 0 drives: it broadcasts a command buffer `[command, exit code, x̂…]`; every rank solves the days it owns
(models built once per day, lazily, and kept); values, subgradients, solve times and a failure flag come
back to rank 0 with one buffer gather, in day order. Days are assigned longest-processing-time first,
first with equal weights, then once from the measured times of the first priced master plan.
A failed solve on any rank stops every rank: rank 0 names the rank and day.
"""
from __future__ import annotations

import logging
import sys
import time

import numpy as np

from .. import interrupts
from ..errors import SolverError
from ..formulations.operation import build_operation, solve_day
from ..instance import Instance
from ..parallel import SerialComm, assign_days
from ..result import DaySolution

log = logging.getLogger(__name__)

STOP, PRICE, REBALANCE, SOLUTIONS = 0.0, 1.0, 2.0, 3.0
_META = 3   # per-day row: [cost, solve seconds, failure code (0 = solved), gradient…]
# Failure statuses travel as numbers (buffers only): code = 1 + index; anything else is "solver_error".
FAILURES = ("solver_error", "optimal_inaccurate", "infeasible", "infeasible_inaccurate", "unbounded",
            "unbounded_inaccurate", "user_limit")


class DayEvaluator:
    def __init__(self, inst: Instance, comm=None):
        self.inst, self.comm = inst, comm or SerialComm()
        self.n_days, self.n_x = len(inst.days), inst.first.n_x
        self.owners = assign_days(np.ones(self.n_days), self.comm.size)
        self.models: dict[int, object] = {}
        self.build_s = 0.0
        self.busy_s = 0.0              # this rank's time in its own solves (cvxpy and Clarabel)
        self.solver_s = 0.0            # of which inside Clarabel
        self.day_s = np.zeros(self.n_days)
        self.last: dict[int, DaySolution] = {}   # this rank's solutions at the last priced plan
        self.local_failures: dict[int, str] = {}  # day → status of this rank's failed solves at that plan
        self.retries = 0                          # Clarabel retries in this rank's solves
        self.rank_busy_s = np.zeros(self.comm.size)   # rank 0: every rank's busy seconds and retries,
        self.rank_retries = np.zeros(self.comm.size)  # as of the last priced plan

    # ---------------------------------------------------------------- every rank

    def mine(self) -> np.ndarray:
        return np.flatnonzero(self.owners == self.comm.rank)

    def model(self, day: int):
        if day not in self.models:
            t0 = time.perf_counter()
            self.models[day] = build_operation(self.inst, self.inst.days[day])
            self.build_s += time.perf_counter() - t0
        return self.models[day]

    def _solve_mine(self, x: np.ndarray, cut: bool = True) -> np.ndarray:
        """Rows [Q_ρ value, seconds, failure code, gradient…] of this rank's days at x (`cut`: Benders pricing,
        else exact evaluation; see operation.constraint_copy)."""
        days = self.mine()
        rows = np.zeros((len(days), _META + self.n_x))
        self.last, self.local_failures = {}, {}
        for i, d in enumerate(days):
            t0 = time.perf_counter()
            try:
                sol = solve_day(self.model(d), x, cut=cut)
            except SolverError as exc:
                rows[i, 2] = 1 + (FAILURES.index(exc.status) if exc.status in FAILURES else 0)
                self.local_failures[int(d)] = exc.status
                if self.comm.rank != 0:
                    print(f"stochplan: rank {self.comm.rank}: {exc}", file=sys.stderr, flush=True)
                continue
            rows[i, 0], rows[i, 1], rows[i, _META:] = sol.value_eur, time.perf_counter() - t0, sol.gradient
            self.solver_s += sol.solver_s
            self.retries += sol.retries
            self.last[int(d)] = sol
        self.busy_s += rows[:, 1].sum()
        return rows

    def _gather_counters(self):
        """(ranks × 2): each rank's busy seconds and Clarabel retries, to rank 0."""
        row = np.array([[self.busy_s, self.retries]])
        return self.comm.gather_rows(row, np.arange(self.comm.size))

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
                self.owners = self.comm.bcast(np.empty(self.n_days)).astype(int)
                continue
            if header[0] == SOLUTIONS:
                self.comm.gather_rows(self._solve_mine(header[2:], cut=False), self.owners)
                self.comm.gather_objects([self.last.get(int(d)) for d in self.mine()], self.owners)
                continue
            self.comm.gather_rows(self._solve_mine(header[2:]), self.owners)
            self._gather_counters()

    # ---------------------------------------------------------------- rank 0

    def evaluate(self, x_hat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """→ (Q_ρ,s(x̂) [EUR/day], g_s [EUR/day per unit x]) for every day, in day order: a cut for each."""
        self._command(PRICE, 0, x_hat)
        rows = self.comm.gather_rows(self._solve_mine(x_hat), self.owners)
        self.rank_busy_s, self.rank_retries = self._gather_counters().T
        self._check(rows)
        self.day_s = rows[:, 1]
        return rows[:, 0], rows[:, _META:]

    def _check(self, rows: np.ndarray | None) -> None:
        """Rank 0: a failed day anywhere stops the run, naming the rank and day."""
        if rows is None:
            return
        failed = np.flatnonzero(rows[:, 2] > 0)
        if failed.size:
            d = int(failed[0])
            raise SolverError(f"day {self.inst.days[d].day} on rank {self.owners[d]}",
                              self.local_failures.get(d, FAILURES[int(rows[d, 2]) - 1]))

    def rebalance(self) -> None:
        """Re-assign days from the last measured solve times (LPT); the answer does not change."""
        if self.comm.size == 1:
            return
        owners = assign_days(self.day_s, self.comm.size)
        self._command(REBALANCE, 0)
        self.owners = self.comm.bcast(owners.astype(float)).astype(int)
        log.info("days re-assigned from measured times: %s", self.describe())

    def describe(self) -> str:
        return "; ".join(f"rank {r}: days {[self.inst.days[d].day for d in np.flatnonzero(self.owners == r)]}"
                         for r in range(self.comm.size))

    def solutions_at(self, x_hat: np.ndarray) -> list[DaySolution]:
        """Every day's full solution at x̂ exactly (no proximal slack at the boundary), solved where the day
        lives and gathered to rank 0 in day order."""
        self._command(SOLUTIONS, 0, x_hat)
        rows = self.comm.gather_rows(self._solve_mine(x_hat, cut=False), self.owners)
        solutions = self.comm.gather_objects([self.last.get(int(d)) for d in self.mine()], self.owners)
        self._check(rows)
        return solutions

    def stop(self, code: int) -> None:
        """Release the other ranks; they exit with `code`."""
        self._command(STOP, code)

    def _command(self, command: float, code: int, x_hat: np.ndarray | None = None) -> None:
        if self.comm.size > 1 or command in (PRICE, SOLUTIONS):
            x = np.zeros(self.n_x) if x_hat is None else x_hat
            self.comm.bcast(np.concatenate([[command, float(code)], x]))
