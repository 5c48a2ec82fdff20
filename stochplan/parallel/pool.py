"""One day pool for every command that solves days on several ranks (Benders pricing, out-of-sample
evaluation): which rank owns which day, each rank's days solved one after another, the rows gathered to
rank 0 in day order, and a failed day named with its rank. mpi-sppy's SPBase owns the scenario→rank
assignment the same way.

A failure is recorded where it happens and raised only by `check`, after the gather: every rank must reach
every collective, or the others would wait for it forever.
"""
from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np

from ..errors import SolverError
from . import assign_days

# Failure statuses travel as numbers (buffers only): code = 1 + index; anything else is "solver_error".
FAILURES = ("solver_error", "optimal_inaccurate", "infeasible", "infeasible_inaccurate", "unbounded",
            "unbounded_inaccurate", "user_limit")


class DayPool:
    def __init__(self, comm, n_days: int, label: Callable[[int], int] = int):
        """`label(d)`: the day's name in messages (its day of the year)."""
        self.comm, self.n_days, self.label = comm, n_days, label
        self.owners = assign_days(np.ones(n_days), comm.size)
        self.local_failures: dict[int, str] = {}     # day → status, this rank's failures in the last solve

    def mine(self) -> np.ndarray:
        """This rank's days, ascending."""
        return np.flatnonzero(self.owners == self.comm.rank)

    def reassign(self, times: np.ndarray) -> None:
        """Longest-processing-time first from rank 0's measured `times`; every rank calls it (a broadcast)."""
        owners = assign_days(times, self.comm.size) if self.comm.rank == 0 else np.empty(self.n_days)
        self.owners = self.comm.bcast(owners.astype(float)).astype(int)

    def solve(self, solve_one: Callable[[int], np.ndarray], width: int, on_done: Callable[[], None] | None = None):
        """`solve_one(d) → row (width,)` for each of this rank's days; a SolverError is recorded, not raised.
        → (days × (1 + width)) on rank 0, in day order, column 0 the failure code (0: solved); None elsewhere."""
        days = self.mine()
        rows = np.zeros((len(days), 1 + width))
        self.local_failures = {}
        for i, d in enumerate(days):
            try:
                rows[i, 1:] = solve_one(int(d))
            except SolverError as exc:
                rows[i, 0] = 1 + (FAILURES.index(exc.status) if exc.status in FAILURES else 0)
                self.local_failures[int(d)] = exc.status
                if self.comm.rank != 0:           # rank 0 raises it in `check`
                    print(f"stochplan: rank {self.comm.rank}: {exc}", file=sys.stderr, flush=True)
            if on_done is not None:
                on_done()
        return self.comm.gather_rows(rows, self.owners)

    def check(self, table: np.ndarray | None) -> np.ndarray | None:
        """Rank 0: raise SolverError for the first failed day, naming it and its rank; → the rows without the
        failure column. Other ranks: None."""
        if table is None:
            return None
        failed = np.flatnonzero(table[:, 0] > 0)
        if failed.size:
            d = int(failed[0])
            status = self.local_failures.get(d, FAILURES[int(table[d, 0]) - 1])
            raise SolverError(f"day {self.label(d)} on rank {self.owners[d]}", status)
        return table[:, 1:]
