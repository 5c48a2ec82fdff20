"""Checks of the collective operations, run with the serial stand-in (in pytest) and under
`mpiexec -n 2 python tests/collectives.py` (each rank runs it; rank 0 prints OK)."""
import time

import numpy as np

from stochplan.parallel import assign_days, get_comm


def check_collectives(comm) -> None:
    # bcast: rank 0's buffer everywhere, whatever the others held
    sent = np.arange(5.0) * 1.5 if comm.rank == 0 else np.full(5, np.nan)
    assert np.array_equal(comm.bcast(sent), np.arange(5.0) * 1.5)

    # gather_rows: 7 days spread unevenly; each rank computes rows for its own days only
    owners = np.array([1, 0, 0, 1, 1, 0, 1]) % comm.size
    days = np.flatnonzero(owners == comm.rank)
    local = np.stack([np.array([d, 10.0 * d, -d]) for d in days]) if days.size else np.zeros((0, 3))
    rows = comm.gather_rows(local, owners)
    if comm.rank == 0:
        assert np.array_equal(rows, np.stack([[d, 10.0 * d, -d] for d in range(7)]))
    else:
        assert rows is None

    # one row per rank (counters)
    per_rank = comm.gather_rows(np.array([[comm.rank + 0.5, 2.0]]), np.arange(comm.size))
    if comm.rank == 0:
        assert np.array_equal(per_rank[:, 0], np.arange(comm.size) + 0.5)

    # bcast_while: a rank > 0 works (here: counts steps, 3 at most) while rank 0 is still busy, then receives
    steps = []
    comm.barrier()
    if comm.rank == 0:
        time.sleep(0.2)
        comm.bcast(np.array([7.0, 8.0]))
    else:
        def step():
            steps.append(time.sleep(0.001))
            return len(steps) < 3
        assert np.array_equal(comm.bcast_while(np.full(2, np.nan), step), [7.0, 8.0])
        assert len(steps) == 3

    # the assignment is the same on every rank (no communication needed)
    owners = assign_days(np.array([3.0, 1.0, 2.0, 2.0]), comm.size)
    assert np.array_equal(comm.bcast(owners.astype(float)), owners)
    comm.barrier()


if __name__ == "__main__":
    comm = get_comm()
    check_collectives(comm)
    if comm.rank == 0:
        print(f"OK {comm.backend} {comm.size}")
