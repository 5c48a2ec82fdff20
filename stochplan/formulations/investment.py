"""First-stage data shared by the master MILP and the extensive form.

x = [E_k (MWh) for storage candidates k, P_k (MW) for k, C_n (MW) for charger stations n], y_k ∈ {0,1}.
Annualised cost  cᵀx + c_yᵀy  with the capital recovery factor CRF(r, n) = r(1+r)ⁿ / ((1+r)ⁿ − 1)  [EUR/year].
Budget on capital cost  capexᵀx + capex_yᵀy ≤ B  [EUR].
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
