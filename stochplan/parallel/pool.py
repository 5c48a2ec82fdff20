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
    def __init__(self, comm, n_days: int, label: Callable[[int], int] = int, groups: int = 1):
        """`label(d)`: the day's name in messages (its day of the year). `groups` > 1: the ranks split into that
        many groups (rank r in group r mod groups), each holding every day, so that several plans can be priced
        side by side (`solve_plans`); at most one group per rank."""
        self.comm, self.n_days, self.label = comm, n_days, label
        self.groups = max(1, min(groups, comm.size))
        self.group_owners = group_owners(np.ones(n_days), comm.size, self.groups)
        self.local_failures: dict[int, str] = {}     # unit → status, this rank's failures in the last solve
        self._last = (self.owners, 1)                 # the last solve's unit owners and plans, for `check`

    @property
    def owners(self) -> np.ndarray:
        """owners[d]: the rank of day d in group 0, which solves single-plan commands."""
        return self.group_owners[0]

    def mine(self) -> np.ndarray:
        """This rank's days in group 0, ascending."""
        return np.flatnonzero(self.owners == self.comm.rank)

    def held(self) -> np.ndarray:
        """The days this rank holds in its own group, ascending (the day models it builds)."""
        return np.flatnonzero(self.group_owners[self.comm.rank % self.groups] == self.comm.rank)

    def reassign(self, times: np.ndarray) -> None:
        """Longest-processing-time first from rank 0's measured `times`, in each group; every rank calls it (a
        broadcast)."""
        shape = self.group_owners.shape
        owners = group_owners(times, self.comm.size, self.groups) if self.comm.rank == 0 else np.empty(shape)
        self.group_owners = self.comm.bcast(owners.astype(float)).astype(int).reshape(shape)

    def solve(self, solve_one: Callable[[int], np.ndarray], width: int, on_done: Callable[[], None] | None = None):
        """`solve_one(d) → row (width,)` for each of this rank's days; a SolverError is recorded, not raised.
        → (days × (1 + width)) on rank 0, in day order, column 0 the failure code (0: solved); None elsewhere."""
        return self._solve_units(self.owners, 1, solve_one, width, on_done)

    def solve_plans(self, plans: int, solve_one: Callable[[int, int], np.ndarray], width: int):
        """`solve_one(j, d) → row` for plan j of `plans` and day d, on the rank of day d in group j mod groups.
        → ((plans · days) × (1 + width)) on rank 0, row j · days + d; None elsewhere."""
        owners = self.group_owners[np.arange(plans) % self.groups].ravel()
        return self._solve_units(owners, plans, lambda u: solve_one(u // self.n_days, u % self.n_days), width)

    def _solve_units(self, owners: np.ndarray, plans: int, solve_one, width: int, on_done=None):
        units = np.flatnonzero(owners == self.comm.rank)
        rows = np.zeros((len(units), 1 + width))
        self.local_failures, self._last = {}, (owners, plans)
        for i, u in enumerate(units):
            try:
                rows[i, 1:] = solve_one(int(u))
            except SolverError as exc:
                rows[i, 0] = 1 + (FAILURES.index(exc.status) if exc.status in FAILURES else 0)
                self.local_failures[int(u)] = exc.status
                if self.comm.rank != 0:           # rank 0 raises it in `check`
                    print(f"stochplan: rank {self.comm.rank}: {exc}", file=sys.stderr, flush=True)
            if on_done is not None:
                on_done()
        return self.comm.gather_rows(rows, owners)

    def check(self, table: np.ndarray | None) -> np.ndarray | None:
        """Rank 0: raise SolverError for the first failed unit of the last solve, naming its day (and plan, when
        several were priced) and its rank; → the rows without the failure column. Other ranks: None."""
        if table is None:
            return None
        owners, plans = self._last
        failed = np.flatnonzero(table[:, 0] > 0)
        if failed.size:
            u = int(failed[0])
            status = self.local_failures.get(u, FAILURES[int(table[u, 0]) - 1])
            plan = f" (plan {u // self.n_days + 1} of {plans} in the round)" if plans > 1 else ""
            raise SolverError(f"day {self.label(u % self.n_days)}{plan} on rank {owners[u]}", status)
        return table[:, 1:]


def group_owners(times: np.ndarray, size: int, groups: int) -> np.ndarray:
    """(groups × days): the rank of each day in each group, longest-processing-time first over the group's ranks
    (rank r is in group r mod groups)."""
    return np.stack([np.arange(g, size, groups)[assign_days(times, len(range(g, size, groups)))]
                     for g in range(groups)])
