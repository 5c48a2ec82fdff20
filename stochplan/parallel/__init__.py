"""Collective operations the Benders loop needs. This is the only package that imports mpi4py.

`get_comm()` returns an MPI communicator when the process runs under an MPI launcher (mpiexec, mpirun,
srun) with more than one rank and mpi4py imports, else a serial stand-in with the same interface.
Arrays travel as numpy buffers (`Bcast`, `Gatherv`), never as pickled objects, and results come back in
day order, so the answer does not depend on the rank count or the day-to-rank assignment.
"""
from __future__ import annotations

import os
import sys
from contextlib import nullcontext

import numpy as np

# World sizes the common launchers export to every rank: MPICH/Hydra and srun --mpi=pmi2 (PMI_SIZE),
# Open MPI (OMPI_COMM_WORLD_SIZE), Intel MPI (MPI_LOCALNRANKS). srun --mpi=pmix exports PMIX_RANK only.
_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS")
# Tasks a launcher started, whether or not MPI joins them: srun's job step (SLURM_STEP_NUM_TASKS, not the
# job's SLURM_NTASKS, which a batch script's own commands see too) and the MPI launchers above.
_TASK_VARS = ("SLURM_STEP_NUM_TASKS",) + _SIZE_VARS
_RANK_VARS = ("SLURM_PROCID", "PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK")

FIX = ("with srun pass --mpi=pmi2 for MPICH (the mpich wheel, Intel MPI) or --mpi=pmix for Open MPI, or start "
       "the ranks with mpirun/mpiexec of the MPI that mpi4py was built with")


class LauncherError(RuntimeError):
    """Several tasks were started but MPI did not join them: each would run the whole plan alone."""

    def __init__(self, tasks: int, world: int):
        super().__init__(f"launcher: {tasks} tasks were started but MPI joined {world} of them (each would run "
                         f"the whole plan alone, racing on one output directory); {FIX}")
        self.first_task = launcher_rank() == 0


class WorkerLost(RuntimeError):
    """A forked worker (workers.py) ended without answering: killed, or an error outside the day solves."""


class SerialComm:
    """One process holding every day."""

    rank = 0
    size = 1
    backend = "serial"

    def bcast(self, array: np.ndarray) -> np.ndarray:
        return array

    def bcast_while(self, array: np.ndarray, work) -> np.ndarray:
        return array

    def gather_rows(self, local: np.ndarray, owners: np.ndarray) -> np.ndarray | None:
        """Rows computed here for the days this rank owns → all rows in day order (rank 0)."""
        return np.array(local, dtype=float, copy=True)

    def gather_objects(self, local: list, owners: np.ndarray) -> list | None:
        """Objects made here for the days this rank owns → all of them in day order (rank 0)."""
        return list(local)

    def barrier(self) -> None:
        pass

    def serving(self, serve):
        """No ranks to start (parallel/workers.py forks its own)."""
        return nullcontext()


class MPIComm:
    """mpi4py's COMM_WORLD behind the same few calls; buffers only."""

    backend = "mpi"

    def __init__(self, comm):
        self.comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()

    def bcast(self, array: np.ndarray) -> np.ndarray:
        """Rank 0's array to every rank (the shape must be known on every rank). Non-blocking underneath, so
        that `bcast_while` can match it: MPI never matches a blocking collective with a non-blocking one."""
        buf = np.ascontiguousarray(array, dtype=float)
        self.comm.Ibcast(buf, root=0).Wait()
        return buf

    def bcast_while(self, array: np.ndarray, work) -> np.ndarray:
        """`bcast` on a rank > 0 that calls `work()`, one step at a time, until rank 0's array has arrived (a step
        under way then ends first); `work()` → False when it has nothing left, and the rank then simply waits."""
        buf = np.ascontiguousarray(array, dtype=float)
        request = self.comm.Ibcast(buf, root=0)
        while not request.Test():
            if not work():
                request.Wait()
                break
        return buf

    def send_object(self, obj, dest: int) -> None:
        """To rank `dest` (pickled: used once, for the final plan's solutions and what is made from them)."""
        self.comm.send(obj, dest=dest)

    def recv_object(self, source: int):
        return self.comm.recv(source=source)

    def gather_rows(self, local: np.ndarray, owners: np.ndarray) -> np.ndarray | None:
        """Gatherv of each rank's rows (its days in increasing order) to rank 0, reordered into day order.

        `owners[d]` is the rank that holds day d; every rank passes the same `owners`."""
        local = np.ascontiguousarray(local, dtype=float)
        width = local.shape[1] if local.ndim == 2 else 1
        counts = np.bincount(owners, minlength=self.size) * width
        recv = None
        if self.rank == 0:
            recv = np.empty(int(counts.sum()), dtype=float)
            displs = np.concatenate([[0], np.cumsum(counts)[:-1]])
            self.comm.Gatherv(local.reshape(-1), [recv, counts, displs, _mpi().DOUBLE], root=0)
        else:
            self.comm.Gatherv(local.reshape(-1), None, root=0)
        if self.rank != 0:
            return None
        return rows_in_day_order(recv.reshape(len(owners), width) if local.ndim == 2 else recv, owners, self.size)

    def gather_objects(self, local: list, owners: np.ndarray) -> list | None:
        """Each rank's objects (its days in increasing order) to rank 0 in day order. Pickled: used once, for
        the full day solutions at the final plan (dispatch tables), never on the iteration path."""
        parts = self.comm.gather(local, root=0)
        return objects_in_day_order(parts, owners) if self.rank == 0 else None

    def barrier(self) -> None:
        self.comm.Barrier()

    def serving(self, serve):
        """The launcher started the ranks; each runs the command itself."""
        return nullcontext()


def rows_in_day_order(rows: np.ndarray, owners: np.ndarray, size: int) -> np.ndarray:
    """Rows received rank by rank, each rank's days ascending → row d at day d."""
    out = np.empty_like(rows)
    out[np.concatenate([np.flatnonzero(owners == r) for r in range(size)])] = rows
    return out


def objects_in_day_order(parts: list[list], owners: np.ndarray) -> list:
    """Each rank's objects (its days ascending), by rank → one list in day order."""
    out = [None] * len(owners)
    for rank, items in enumerate(parts):
        for day, item in zip(np.flatnonzero(owners == rank), items):
            out[day] = item
    return out


def _mpi():
    from mpi4py import MPI
    return MPI


def can_fork() -> bool:
    """Helpers and workers may be forked here: on Linux (macOS's system libraries are not fork-safe, Windows
    cannot fork) and in a process that did not start MPI (on some interconnects a forked child corrupts the
    parent's registered memory)."""
    return sys.platform.startswith("linux") and not under_launcher()


def usable_cores() -> int:
    """Cores this process may run on (its affinity: a slurm allocation or `taskset` narrows it)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def under_launcher() -> bool:
    return any(_env_int(v) > 1 for v in _SIZE_VARS) or "PMIX_RANK" in os.environ


def launched_tasks() -> int:
    """How many tasks the launcher says it started (1 without a launcher)."""
    return max([_env_int(v) for v in _TASK_VARS] + [1])


def launcher_rank() -> int:
    """This task's number according to the launcher (0 without one)."""
    return next((_env_int(v) for v in _RANK_VARS if v in os.environ), 0)


def _env_int(name: str) -> int:
    try:
        return int(os.environ.get(name, "0") or 0)
    except ValueError:
        return 0


def get_comm():
    """MPI when launched with several ranks and mpi4py is installed, else the serial stand-in. Raises
    LauncherError when a launcher started several tasks that MPI did not join (srun without a PMI that the
    MPI understands, or another MPI's mpiexec starting singletons): N copies would each run the whole plan."""
    tasks = launched_tasks()
    if not under_launcher():
        if tasks > 1:
            raise LauncherError(tasks, 1)
        return SerialComm()
    try:
        MPI = _mpi()
    except ImportError as exc:   # launched with mpiexec but no mpi4py: every rank would plan alone
        raise RuntimeError("started under an MPI launcher but mpi4py is not installed; "
                           "pip install 'stochplan[mpi]' (or mpi4py built against your MPI)") from exc
    comm = MPI.COMM_WORLD
    if comm.Get_size() < tasks:
        raise LauncherError(tasks, comm.Get_size())
    return MPIComm(comm) if comm.Get_size() > 1 else SerialComm()


def assign_days(times: np.ndarray, size: int) -> np.ndarray:
    """Longest-processing-time first: each day, longest first, goes to the least-loaded rank.

    → owners[d], the rank of day d. Ties break by day index, so every rank computes the same answer."""
    owners = np.zeros(len(times), dtype=int)
    load = np.zeros(size)
    for day in sorted(range(len(times)), key=lambda d: (-times[d], d)):
        rank = int(np.argmin(load))
        owners[day] = rank
        load[rank] += times[day]
    return owners


def assign_spare(done_by: np.ndarray, setup_s: float, unit_s: float, size: int) -> np.ndarray:
    """Who does each unit of spare work (the baseline's days): a unit done already stays with the rank that did it
    (`done_by`, −1 where none did); each other unit, in order, goes to the rank that would finish it first, from
    equal start, a rank that has done none paying `setup_s` once (the model it must build) besides `unit_s` a unit.
    → owners[u]. Ties break by rank, so every rank computes the same answer."""
    owners = np.array(done_by, dtype=int)
    started = np.zeros(size, dtype=bool)
    started[owners[owners >= 0]] = True
    load = np.zeros(size)
    for u in np.flatnonzero(owners < 0):
        finish = load + unit_s + np.where(started, 0.0, setup_s)
        rank = int(np.argmin(finish))
        owners[u], load[rank], started[rank] = rank, finish[rank], True
    return owners
