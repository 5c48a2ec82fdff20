"""Ranks without MPI: forked copies of this process on the cores it may use, so that plain `stochplan plan`
on a laptop or workstation prices its days in parallel as `mpiexec -n N stochplan plan` does.

Rank 0 is this process. When Benders starts, ranks 1 … n−1 are forked from it: they inherit the built
instance (nothing is rebuilt or pickled), serve day solves exactly as MPI ranks do (DayEvaluator.serve) and
exit when rank 0 stops them. The collectives have MPIComm's meaning — rank 0's buffer to every rank, each
rank's rows gathered in day order — over one pipe per worker, so an answer is the same bit for bit on one
process, on N workers and on N MPI ranks (a test compares them).

Only where forking is safe (`can_fork`: Linux, and never in a process under an MPI launcher).
"""
from __future__ import annotations

import logging
import multiprocessing
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

from . import (
    SerialComm,
    WorkerLost,
    can_fork,
    objects_in_day_order,
    rows_in_day_order,
    usable_cores,
)


def local_ranks(workers: int | None, n_days: int):
    """The ranks for a run without a launcher: `workers` processes (None: one per usable core where forking is
    safe, else this process alone; the CLI refuses more than one where it is not), never more than there are
    days; a SerialComm for one."""
    n = min(workers or (usable_cores() if can_fork() else 1), n_days)
    return WorkerComm(n) if n > 1 else SerialComm()


class WorkerComm:
    """Rank 0 and `size − 1` forked workers behind MPIComm's calls; buffers travel as bytes."""

    backend = "fork"

    def __init__(self, size: int):
        self.size, self.rank = size, 0
        self._links: list = []          # rank 0: one pipe end per worker, by rank; a worker: its end to rank 0
        self._workers: list = []

    @contextmanager
    def serving(self, serve: Callable[[], int]) -> Iterator[None]:
        """Fork the workers; each runs `serve()` as its rank and exits with the code it returns. Leaving the
        block closes the pipes (a worker still waiting then ends) and waits for every worker; leaving it by an
        exception ends them at once. Workers ignore SIGINT/SIGTERM (a Ctrl-C reaches the whole process group):
        rank 0 decides, as with MPI ranks."""
        context = multiprocessing.get_context("fork")
        ends = [context.Pipe() for _ in range(1, self.size)]
        self._workers, self._links = [], [mine for mine, _ in ends]
        try:
            for rank in range(1, self.size):
                worker = context.Process(target=self._serve_as, args=(rank, serve, ends), daemon=True,
                                         name=f"stochplan rank {rank}")
                worker.start()
                self._workers.append(worker)
            for _, theirs in ends:        # the workers' ends live in the workers only
                theirs.close()
            yield
        except BaseException:             # rank 0 stops (an error, a signal, a failed fork): its workers' work is
            for worker in self._workers:  # not needed; they write nothing, so nothing is left half-done
                worker.kill()
            raise
        finally:
            for mine, theirs in ends:     # (closing twice is harmless)
                mine.close()
                theirs.close()
            for worker in self._workers:
                worker.join()

    def _serve_as(self, rank: int, serve: Callable[[], int], ends: list) -> None:
        for r, (mine, theirs) in enumerate(ends, start=1):     # keep only this worker's end: EOF then means
            mine.close()                                      # rank 0 is gone
            if r != rank:
                theirs.close()
        self.rank, self._links = rank, [ends[rank - 1][1]]
        logging.disable(logging.CRITICAL)                     # rank 0 reports
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        try:
            code = serve()
        except (EOFError, OSError):       # rank 0 went away without a word (its own error is reported there)
            code = 1
        sys.exit(code)

    def _link(self, rank: int):
        """Rank 0's pipe to worker `rank`, or a worker's pipe to rank 0 (`rank` ignored)."""
        return self._links[rank - 1] if self.rank == 0 else self._links[0]

    def _send(self, rank: int, payload, pickled: bool = False) -> None:
        """To rank 0 from a worker (`rank` ignored), or from rank 0 to worker `rank`."""
        link = self._link(rank)
        try:
            link.send(payload) if pickled else link.send_bytes(payload)
        except OSError:                   # a broken pipe: the other end is gone
            if self.rank != 0:
                raise
            self._lost(rank)

    def _receive(self, rank: int, pickled: bool = False):
        """From worker `rank` on rank 0, or from rank 0 on a worker."""
        link = self._link(rank)
        try:
            return link.recv() if pickled else link.recv_bytes()
        except (EOFError, OSError):
            if self.rank != 0:
                raise
            self._lost(rank)

    def _lost(self, rank: int):
        worker = self._workers[rank - 1]
        worker.join()
        raise WorkerLost(f"worker rank {rank} ended without answering (exit code {worker.exitcode}); its error, "
                         "if any, is printed above") from None

    def bcast(self, array: np.ndarray) -> np.ndarray:
        """Rank 0's array to every rank (the shape must be known on every rank)."""
        buf = np.ascontiguousarray(array, dtype=float)
        if self.rank != 0:
            return np.frombuffer(self._receive(0), dtype=float).reshape(buf.shape).copy()
        for rank in range(1, self.size):
            self._send(rank, buf.tobytes())
        return buf

    def bcast_while(self, array: np.ndarray, work: Callable[[], bool]) -> np.ndarray:
        """`bcast` on a worker that calls `work()` until rank 0's array is in its pipe (as MPIComm's)."""
        while not self._link(0).poll() and work():
            pass
        return self.bcast(array)

    def send_object(self, obj, dest: int) -> None:
        """From rank 0 to worker `dest`, or from a worker to rank 0 (pickled, as MPIComm's)."""
        self._send(dest, obj, pickled=True)

    def recv_object(self, source: int):
        return self._receive(source, pickled=True)

    def gather_rows(self, local: np.ndarray, owners: np.ndarray) -> np.ndarray | None:
        """Each rank's rows (its days in increasing order) to rank 0, in day order."""
        local = np.asarray(local, dtype=float)
        if self.rank != 0:
            self._send(0, local.tobytes())
            return None
        parts = [local] + [np.frombuffer(self._receive(r), dtype=float).reshape((-1,) + local.shape[1:])
                           for r in range(1, self.size)]
        return rows_in_day_order(np.concatenate(parts), owners, self.size)

    def gather_objects(self, local: list, owners: np.ndarray) -> list | None:
        """Each rank's objects (its days in increasing order) to rank 0 in day order (pickled, as MPIComm's)."""
        if self.rank != 0:
            self._send(0, local, pickled=True)
            return None
        return objects_in_day_order([local] + [self._receive(r, pickled=True) for r in range(1, self.size)], owners)

    def barrier(self) -> None:
        if self.rank != 0:
            self._send(0, b"")
            self._receive(0)
            return
        for rank in range(1, self.size):
            self._receive(rank)
        for rank in range(1, self.size):
            self._send(rank, b"")
