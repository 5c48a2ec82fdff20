"""Collective operations the Benders loop needs. This is the only package that imports mpi4py.

`get_comm()` returns an MPI communicator when the process runs under an MPI launcher (mpiexec, mpirun,
srun) with more than one rank and mpi4py imports, else a serial stand-in with the same interface.
Arrays travel as numpy buffers (`Bcast`, `Gatherv`), never as pickled objects, and results come back in
day order, so the answer does not depend on the rank count or the day-to-rank assignment.
"""
from __future__ import annotations

import os

import numpy as np

# World sizes the common launchers export to every rank: MPICH/Hydra and srun --mpi=pmi2 (PMI_SIZE),
# Open MPI (OMPI_COMM_WORLD_SIZE), Intel MPI (MPI_LOCALNRANKS). srun --mpi=pmix exports PMIX_RANK only.
_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS")


class SerialComm:
    """One process holding every day."""

    rank = 0
    size = 1
    backend = "serial"

    def bcast(self, array: np.ndarray) -> np.ndarray:
        return array

    def gather_rows(self, local: np.ndarray, owners: np.ndarray) -> np.ndarray | None:
        """Rows computed here for the days this rank owns → all rows in day order (rank 0)."""
        return np.array(local, dtype=float, copy=True)

    def gather_objects(self, local: list, owners: np.ndarray) -> list | None:
        """Objects made here for the days this rank owns → all of them in day order (rank 0)."""
        return list(local)

    def barrier(self) -> None:
        pass


class MPIComm:
    """mpi4py's COMM_WORLD behind the same few calls; buffers only."""

    backend = "mpi"

    def __init__(self, comm):
        self.comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()

    def bcast(self, array: np.ndarray) -> np.ndarray:
        """Rank 0's array to every rank (the shape must be known on every rank)."""
        buf = np.ascontiguousarray(array, dtype=float)
        self.comm.Bcast(buf, root=0)
        return buf

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
        # Received rank by rank, each rank's days ascending: put row i back at its day.
        order = np.concatenate([np.flatnonzero(owners == r) for r in range(self.size)])
        rows = recv.reshape(len(owners), width) if local.ndim == 2 else recv
        out = np.empty_like(rows)
        out[order] = rows
        return out

    def gather_objects(self, local: list, owners: np.ndarray) -> list | None:
        """Each rank's objects (its days in increasing order) to rank 0 in day order. Pickled: used once, for
        the full day solutions at the final plan (dispatch tables), never on the iteration path."""
        parts = self.comm.gather(local, root=0)
        if self.rank != 0:
            return None
        out = [None] * len(owners)
        for rank, items in enumerate(parts):
            for day, item in zip(np.flatnonzero(owners == rank), items):
                out[day] = item
        return out

    def barrier(self) -> None:
        self.comm.Barrier()


def _mpi():
    from mpi4py import MPI
    return MPI


def under_launcher() -> bool:
    return any(int(os.environ.get(v, "0") or 0) > 1 for v in _SIZE_VARS) or "PMIX_RANK" in os.environ


def get_comm():
    """MPI when launched with several ranks and mpi4py is installed, else the serial stand-in."""
    if not under_launcher():
        return SerialComm()
    try:
        MPI = _mpi()
    except ImportError as exc:   # launched with mpiexec but no mpi4py: every rank would plan alone
        raise RuntimeError("started under an MPI launcher but mpi4py is not installed; "
                           "pip install 'stochplan[mpi]' (or mpi4py built against your MPI)") from exc
    comm = MPI.COMM_WORLD
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
