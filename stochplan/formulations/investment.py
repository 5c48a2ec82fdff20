"""First-stage data shared by the master MILP and the extensive form.

x = [E_k (MWh) for storage candidates k, P_k (MW) for k, C_n (MW) for charger stations n], y_k ∈ {0,1}.
Annualised cost  cᵀx + c_yᵀy  with the capital recovery factor CRF(r, n) = r(1+r)ⁿ / ((1+r)ⁿ − 1)  [EUR/year].
Budget on capital cost  capexᵀx + capex_yᵀy ≤ B  [EUR].
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import Case


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


def first_stage(case: Case) -> FirstStage:
    st, ch, inv = case.storage, case.chargers, case.investment
    k, n = len(st.candidates), len(ch.stations)
    crf_s = capital_recovery_factor(inv.discount_rate, st.lifetime_years)
    crf_c = capital_recovery_factor(inv.discount_rate, ch.lifetime_years)
    capex_x = np.concatenate([np.full(k, st.energy_cost_eur_per_mwh), np.full(k, st.power_cost_eur_per_mw),
                              np.full(n, ch.cost_eur_per_mw)])
    crf_x = np.concatenate([np.full(2 * k, crf_s), np.full(n, crf_c)])
    return FirstStage(
        storage_buses=tuple(st.candidates), station_buses=tuple(s.bus for s in ch.stations),
        x_max=np.concatenate([np.full(k, st.max_energy_mwh), np.full(k, st.max_power_mw),
                              np.full(n, ch.max_capacity_mw)]),
        cost_x=capex_x * crf_x, cost_y=np.full(k, st.site_cost_eur * crf_s),
        capex_x=capex_x, capex_y=np.full(k, st.site_cost_eur),
        budget_eur=inv.budget_eur, max_sites=inv.max_storage_sites,
        min_duration_h=st.min_duration_h, max_duration_h=st.max_duration_h, siting=st.siting,
        fixed_y=np.array([1.0 if b in st.fixed_sites else 0.0 for b in st.candidates]))
