"""Collective operations the Benders loop needs. This is the only package that may import mpi4py.

For now the serial stand-in: one rank holding every day. The MPI communicator with the same
interface (bcast of x̂, buffer gathers of values and subgradients in day order) comes with the
parallel issue.
"""
from __future__ import annotations

import numpy as np


class SerialComm:
    rank = 0
    size = 1

    def bcast(self, array: np.ndarray) -> np.ndarray:
        return array

    def gather_days(self, local: np.ndarray, day_ids: np.ndarray, n_days: int) -> np.ndarray:
        """Rows computed here for `day_ids` → the full (n_days × …) array in day order."""
        out = np.empty((n_days,) + local.shape[1:])
        out[day_ids] = local
        return out

    def owned_days(self, n_days: int) -> np.ndarray:
        return np.arange(n_days)


def get_comm() -> SerialComm:
    return SerialComm()
