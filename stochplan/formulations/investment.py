"""First-stage data shared by the master MILP and the extensive form.

x = [E_k (MWh) for storage candidates k, P_k (MW) for k, C_n (MW) for charger stations n], y_k ∈ {0,1}.
Annualised cost  cᵀx + c_yᵀy  with the capital recovery factor CRF(r, n) = r(1+r)ⁿ / ((1+r)ⁿ − 1)  [EUR/year].
Budget on capital cost  capexᵀx + capex_yᵀy ≤ B  [EUR].
Rows (`FirstStage.rows`), with x ∈ [0, x̄] and y ∈ [0, 1]:
    E_k ≤ Ē y_k,  P_k ≤ P̄ y_k,  d_min P_k ≤ E_k ≤ d_max P_k,  Σ_k y_k ≤ max sites,  budget.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


def capital_recovery_factor(rate: float, years: float) -> float:
    if rate == 0:
        return 1.0 / years
    growth = (1.0 + rate) ** years
    return rate * growth / (growth - 1.0)


@dataclass(frozen=True)
class FirstStage:
    storage_buses: tuple[int, ...]   # feeder bus ids
    station_buses: tuple[int, ...]
    x_max: np.ndarray                # (n_x,) upper bounds
    cost_x: np.ndarray               # (n_x,) EUR/year per MWh or MW
    cost_y: np.ndarray               # (K,) EUR/year per site
    capex_x: np.ndarray              # (n_x,) EUR per unit
    capex_y: np.ndarray              # (K,)
    budget_eur: float
    max_sites: int
    min_duration_h: float
    max_duration_h: float
    siting: str                      # "binary" | "relaxed" | "fixed"
    fixed_y: np.ndarray              # (K,) used when siting = "fixed"

    @property
    def n_storage(self) -> int:
        return len(self.storage_buses)

    @property
    def n_x(self) -> int:
        return len(self.x_max)

    def split(self, x: np.ndarray):
        """x → (E_mwh, P_mw, C_mw)."""
        k = self.n_storage
        return x[:k], x[k:2 * k], x[2 * k:]

    def annual_cost(self, x: np.ndarray, y: np.ndarray) -> float:
        return float(self.cost_x @ x + self.cost_y @ y)

    def rows(self) -> tuple[sp.csr_matrix, np.ndarray]:
        """(A, b): the first stage's rows A [x; y] ≤ b (module docstring), one matrix for every model of them
        (the master, mpi-sppy's scenarios)."""
        k, n_x = self.n_storage, self.n_x
        e, p, y = np.arange(k), k + np.arange(k), n_x + np.arange(k)
        rows, cols, vals, rhs = [], [], [], []

        def add(columns, values, bound):
            kept = [(c, v) for c, v in zip(columns, values) if v != 0.0]
            rows.extend([len(rhs)] * len(kept))
            cols.extend(c for c, _ in kept)
            vals.extend(v for _, v in kept)
            rhs.append(bound)

        for i in range(k):
            add([e[i], y[i]], [1.0, -self.x_max[e[i]]], 0.0)                 # E_k ≤ Ē y_k
            add([p[i], y[i]], [1.0, -self.x_max[p[i]]], 0.0)                 # P_k ≤ P̄ y_k
            add([e[i], p[i]], [-1.0, self.min_duration_h], 0.0)              # d_min P_k ≤ E_k
            add([e[i], p[i]], [1.0, -self.max_duration_h], 0.0)              # E_k ≤ d_max P_k
        if k and self.max_sites < k:
            add(list(y), [1.0] * k, float(self.max_sites))
        if np.isfinite(self.budget_eur):
            add(list(range(n_x + k)), list(self.capex_x) + list(self.capex_y), self.budget_eur)
        return sp.csr_matrix((vals, (rows, cols)), shape=(len(rhs), n_x + k)), np.array(rhs, dtype=float)
