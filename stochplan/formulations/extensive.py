"""Extensive form: every day in one cvxpy problem with the first stage as Variables — the reference
the Benders answer is checked against.

    min cᵀx + c_yᵀy + 365 Σ_s π_s cost_s(x)   over x, y and every day's operation
with the same first-stage constraints as the master. Clarabel has no integers, so binary siting is made
exact by branch-and-bound over the siting binaries: each node is the EF with some y_k fixed to 0 or 1 and
the others relaxed to [0, 1]; its optimum bounds the node's subtree (relaxation), an integral optimum is a
candidate, and a node whose bound is not below the best candidate is pruned. The problem is compiled once
(the node's bounds on y are Parameters) and re-solved per node; nodes are taken best bound first. With a
margin `within` > 0 the search also proves the other sitings whose optimum lies within it of the best
(a node is pruned only when its bound is beyond best · (1 + within)); Benders' warm start prices them.
"""
from __future__ import annotations

import heapq
import logging
import math
import time
from contextlib import contextmanager, nullcontext

import cvxpy as cp
import numpy as np

from ..errors import SolverError
from ..parallel import SerialComm
from ..parallel.pool import FAILURES
from ..result import DAYS_PER_YEAR, PlanResult
from ..solvers import solve_conic
from ..solvers.conic import EF_FIRST
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


def solve_extensive(inst: PlanInputs, exact: bool = True, comm=None, quiet: bool = False,
                    within: float = 0.0, started: bool = False) -> PlanResult:
    """The EF optimum; with binary siting and `exact`, by branch-and-bound (else the relaxation). After the root,
    nodes are solved `comm.size` at a time, best bounds first: on forked workers (parallel/workers.py) that
    inherit the compiled problem. The optimum does not depend on the count; the nodes solved may (a node the
    serial order would prune can be in a batch). `quiet`: the nodes logged at DEBUG (a step inside another
    method, Benders' warm start). `within` > 0 (relative): also every other siting's optimum within that margin
    of the best, in `PlanResult.alternatives`, best first (a siting beyond it may still have been solved).
    `started`: the other ranks of `comm` already run `serve_nodes` on this instance (Benders' ranks lent to its
    warm start), so none are forked and they are released however the search ends."""
    comm = comm or SerialComm()
    started = started and exact and branches(inst)
    with (_releasing(comm, inst.first.n_storage) if started else nullcontext()):
        return _branch_and_bound(inst, exact, comm, quiet, within, started)


def _branch_and_bound(inst: PlanInputs, exact: bool, comm, quiet: bool, within: float, started: bool) -> PlanResult:
    fs = inst.first
    start = time.perf_counter()
    ef = _Nodes(inst)
    branching = exact and branches(inst)
    best, best_plan, nodes = math.inf, None, 0
    leaves = []                                            # (value, x, y) of every integral node
    level = logging.DEBUG if quiet else logging.INFO
    queue = [(-math.inf, (0, 0), np.zeros(fs.n_storage), np.ones(fs.n_storage))]
    batch = [queue.pop()]
    results = ef.solve_batch(comm, batch, branching)     # the root, here: workers forked after it inherit the
    forked = branching and not started                                                       # compiled problem
    with comm.serving(lambda: ef.serve(comm, branching)) if forked else nullcontext():
        while batch:
            for (_, _, lo, hi), (value, x_val, y_val, sols) in zip(batch, results):
                nodes += 1
                fractional = np.abs(y_val - np.round(y_val))
                log.log(level, "EF node %d (sites %s): %.2f EUR/year%s", nodes, _describe(lo, hi), value,
                        "" if sols is not None else f", y = {np.round(y_val, 3).tolist()}")
                if value >= _cutoff(best, within):
                    continue
                if sols is not None:
                    y_int = np.round(y_val) if branching else y_val
                    leaves.append((value, x_val, y_int))
                    if value < best:
                        best, best_plan = value, (y_int, x_val, sols)
                    children = _others(lo, hi, y_int) if within > 0 and branching else []
                else:
                    k = int(np.argmax(fractional))
                    children = [_fix(lo, hi, [k], [fixed]) for fixed in (0.0, 1.0)]
                for c, (child_lo, child_hi) in enumerate(children):
                    if _feasible(fs, child_lo):
                        heapq.heappush(queue, (value, (nodes, c), child_lo, child_hi))
            batch = _next_batch(queue, comm.size, _cutoff(best, within))
            results = ef.solve_batch(comm, batch, branching) if batch else []
        if not started:
            ef.stop(comm, branching)
    y_val, x_val, sols = best_plan
    others = sorted((leaf for leaf in leaves if not np.array_equal(leaf[2], y_val) and leaf[0] < _cutoff(best, within)),
                    key=lambda leaf: leaf[0])
    return PlanResult(method="ef", x=x_val, y=y_val, investment_eur=fs.annual_cost(x_val, y_val), solutions=sols,
                      lower_bound=best, upper_bound=best, gap=0.0, converged=True, stop_reason="optimal",
                      timings={"total_s": time.perf_counter() - start, "build_s": ef.build_s,
                               "solver_s": ef.solver_s, "solver_retries": ef.retries, "nodes": nodes,
                               "ranks": comm.size, "ranks_backend": comm.backend,
                               "siting": "binary (branch-and-bound)" if branching else fs.siting},
                      alternatives=others if within > 0 else None)


def branches(inst: PlanInputs) -> bool:
    """Whether the exact EF branches over the sites (binary siting with candidates)."""
    return inst.first.siting == "binary" and inst.first.n_storage > 0


def serve_nodes(inst: PlanInputs, comm) -> None:
    """Ranks > 0 of a running `comm`: compile the EF of `inst` and solve the nodes rank 0's
    `solve_extensive(inst, comm=comm, started=True)` sends, until it stops (binary siting only: the others have
    no nodes to share)."""
    _Nodes(inst).serve(comm, branching=True)


def _header_width(comm, n_storage: int) -> int:
    """A batch header's length: [go, then per rank: active, lo…, hi…] (_Nodes._header)."""
    return 1 + comm.size * (1 + 2 * n_storage)


@contextmanager
def _releasing(comm, n_storage: int):
    """Rank 0 with `started` ranks: they leave `serve_nodes` however the search ends, by an error too (the root's
    solve, before any node is shared, included)."""
    try:
        yield
    finally:
        comm.bcast(np.zeros(_header_width(comm, n_storage)))      # go = 0: stop (_Nodes._header)


def _fix(lo: np.ndarray, hi: np.ndarray, sites, values) -> tuple[np.ndarray, np.ndarray]:
    """A child node: the node's bounds with `sites` fixed to `values`."""
    lo, hi = lo.copy(), hi.copy()
    lo[sites] = hi[sites] = values
    return lo, hi


def _others(lo: np.ndarray, hi: np.ndarray, y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The rest of a node whose relaxation came out integral at y, as children that each hold other sitings
    (Lawler's partition): over the free sites f₁ … f_n, child i agrees with y on f₁ … f_{i−1} and differs on f_i.
    They cover every siting of the node but y, none twice, so no siting is solved again."""
    free = np.flatnonzero(lo < hi)
    return [_fix(lo, hi, free[:i + 1], np.append(y[free[:i]], 1.0 - y[k])) for i, k in enumerate(free)]


def _feasible(fs, lo: np.ndarray) -> bool:
    """Whether some plan builds at least the sites `lo` fixes to 1 (the site count and the budget; a child of an
    integral node is branched on a site the relaxation left at 0, whose 1 may exceed either)."""
    return lo.sum() <= fs.max_sites and (not math.isfinite(fs.budget_eur) or fs.capex_y @ lo <= fs.budget_eur)


def _cutoff(best: float, within: float) -> float:
    """The bound at and beyond which a node is pruned: within PRUNE of the best plan, or beyond the margin
    `within` of it (no best yet: nothing pruned)."""
    return best + (within - PRUNE) * abs(best) if math.isfinite(best) else math.inf


def _next_batch(queue: list, size: int, cutoff: float) -> list:
    """Up to `size` nodes off the heap, best bound first, skipping those beyond the `cutoff` (_cutoff)."""
    batch = []
    while queue and len(batch) < size:
        node = heapq.heappop(queue)
        if node[0] < cutoff:
            batch.append(node)
    return batch


class _Nodes:
    """The EF compiled once (the nodes' bounds on y are Parameters) and solved one node per rank and batch.

    Rank 0 broadcasts a batch as rows [active, lo…, hi…] (one per rank); each rank solves its row's node and
    returns [failure code, value, solver s, retries, x…, y…] in one gather, and the day solutions of an integral
    node (a candidate) in a second; rank 0 raises the first failure after both, so every rank reaches them."""

    def __init__(self, inst: PlanInputs):
        fs = self.fs = inst.first
        t0 = time.perf_counter()
        self.x, self.y = cp.Variable(fs.n_x), cp.Variable(fs.n_storage)
        self.y_lo = cp.Parameter(fs.n_storage, value=np.zeros(fs.n_storage))
        self.y_hi = cp.Parameter(fs.n_storage, value=np.ones(fs.n_storage))
        self.models = [build_operation(inst, day, x_src=self.x) for day in inst.days]
        weights = np.array([d.weight for d in inst.days])
        investment = fs.cost_x @ self.x + (fs.cost_y @ self.y if fs.n_storage else 0)
        operation = sum(w * cp.sum(list(m.cost.values())) for w, m in zip(weights, self.models))
        cons = first_stage_constraints(self.x, self.y, fs, self.y_lo, self.y_hi) \
            + [c for m in self.models for c in m.problem.constraints]
        self.problem = cp.Problem(cp.Minimize(OBJ_SCALE * investment + DAYS_PER_YEAR * operation), cons)
        self.build_s = time.perf_counter() - t0
        self.solver_s, self.retries = 0.0, 0
        self.width = 4 + fs.n_x + fs.n_storage

    def _solve(self, lo: np.ndarray, hi: np.ndarray, branching: bool) -> tuple[np.ndarray, list | None]:
        """→ (result row, the day solutions when the node's y is integral, else None)."""
        fs, row = self.fs, np.full(self.width, np.nan)
        self.y_lo.value, self.y_hi.value = lo, hi
        try:
            report = solve_conic(self.problem, "extensive form" + (f" (sites fixed {_describe(lo, hi)})"
                                                                     if fs.n_storage else ""), first=EF_FIRST)
        except SolverError as exc:
            row[0] = 1 + (FAILURES.index(exc.status) if exc.status in FAILURES else 0)
            return row, None
        x_val = np.clip(np.asarray(self.x.value).reshape(-1), 0.0, fs.x_max) if fs.n_x else np.zeros(0)
        y_val = np.clip(np.asarray(self.y.value).reshape(-1), 0.0, 1.0) if fs.n_storage else np.zeros(0)
        row[:4] = 0.0, float(self.problem.value) / OBJ_SCALE, report.solver_s, report.retries
        row[4:] = np.concatenate([x_val, y_val])
        integral = not branching or np.abs(y_val - np.round(y_val)).max(initial=0.0) <= INTEGRAL
        return row, [read_solution(m) for m in self.models] if integral else None

    def _mine(self, comm, header: np.ndarray, branching: bool) -> tuple[np.ndarray | None, list | None]:
        """This rank's node of the broadcast batch solved, then both gathers → (rows, day solutions) on rank 0."""
        n = self.fs.n_storage
        active, lo, hi = np.split(header[1:].reshape(comm.size, 1 + 2 * n)[comm.rank], [1, 1 + n])
        row, sols = self._solve(lo, hi, branching) if active[0] else (np.full(self.width, np.nan), None)
        rows = comm.gather_rows(row[None, :], np.arange(comm.size))
        return rows, comm.gather_objects([sols], np.arange(comm.size))

    def _header(self, comm, batch: list | None) -> np.ndarray:
        """[go, then per rank: active, lo…, hi…]; go = 0 (no batch) stops the workers."""
        n = self.fs.n_storage
        header = np.zeros(_header_width(comm, n))
        if batch is None:
            return header
        header[0] = 1.0
        per_rank = header[1:].reshape(comm.size, 1 + 2 * n)        # a view: rows written into `header`
        for r, (_, _, lo, hi) in enumerate(batch):
            per_rank[r] = np.concatenate([[1.0], lo, hi])
        return header

    def solve_batch(self, comm, batch: list, branching: bool) -> list[tuple]:
        """Rank 0: each node of `batch` on its own rank → (value, x, y, day solutions or None) in batch order."""
        if len(batch) == 1 or comm.size == 1:       # one node (the root): here, workers or not
            results = [self._solve(lo, hi, branching) for _, _, lo, hi in batch]
            rows, sols = np.array([r for r, _ in results]), [s for _, s in results]
        else:
            header = self._header(comm, batch)
            rows, sols = self._mine(comm, comm.bcast(header), branching)
        out = []
        for (_, _, lo, hi), row, day_sols in zip(batch, rows, sols):
            if row[0] > 0:
                raise SolverError(f"extensive form (sites fixed {_describe(lo, hi)})", FAILURES[int(row[0]) - 1])
            self.solver_s += row[2]
            self.retries += int(row[3])
            out.append((row[1], row[4:4 + self.fs.n_x], row[4 + self.fs.n_x:], day_sols))
        return out

    def serve(self, comm, branching: bool) -> int:
        """Forked workers: solve the node of each broadcast batch until rank 0 says stop."""
        while True:
            header = comm.bcast(np.empty(_header_width(comm, self.fs.n_storage)))
            if header[0] == 0:
                return 0
            self._mine(comm, header, branching)

    def stop(self, comm, branching: bool) -> None:
        if branching and comm.size > 1:
            comm.bcast(self._header(comm, None))


def _describe(lo: np.ndarray, hi: np.ndarray) -> str:
    fixed = [("1" if lo[k] == 1 else "0") if lo[k] == hi[k] else "·" for k in range(len(lo))]
    return "".join(fixed) or "-"
