"""Assemble a validated problem instance from a case: the feeder `Ref` with its devices, the days, the first
stage and the day model's options — everything the formulations read, so they never read the case itself.

Everything a user can get wrong is checked here, before any solve.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import Case
from .formulations.investment import FirstStage, capital_recovery_factor
from .formulations.options import EVOptions, OperationOptions, StorageOptions
from .network import Ref, build_ref, load_net
from .scenarios import Day, build_days


@dataclass(frozen=True)
class Instance:
    case: Case
    ref: Ref                  # with its devices placed (pv_bus, storage_bus, station_bus)
    days: list[Day]
    first: FirstStage
    options: OperationOptions


def build_instance(case: Case, k: int | None = None, days: list | None = None) -> Instance:
    """`k` overrides scenarios.k; `days` replaces the case's days (e.g. every day of the year)."""
    ref = build_ref(load_net(case.network.source), case.network, case.name).with_devices(
        pv={f"pv[{i}].bus": u.bus for i, u in enumerate(case.pv)},
        storage={f"storage.candidates[{i}]": b for i, b in enumerate(case.storage.candidates)},
        stations={f"chargers.stations[{i}].bus": s.bus for i, s in enumerate(case.chargers.stations)})
    days = build_days(case, ref, k) if days is None else days
    return Instance(case=case, ref=ref, days=days, first=first_stage(case), options=operation_options(case))


def operation_options(case: Case) -> OperationOptions:
    m, st, ev = case.model, case.storage, case.ev
    return OperationOptions(
        formulation=m.formulation, storage_model=m.storage_model, capacity_floor=m.capacity_floor,
        load_shed=m.load_shed, load_shed_cost_eur_per_mwh=m.load_shed_cost_eur_per_mwh,
        ev_unmet_cost_eur_per_mwh=m.ev_unmet_cost_eur_per_mwh, balance_weight_eur=m.balance_weight_eur,
        carbon_price_eur_per_t=case.prices.carbon_price_eur_per_t,
        storage=StorageOptions(soc_min=st.soc_min, soc_max=st.soc_max, loss_resistance_pu=st.loss_resistance_pu,
                               efficiency_charge=st.efficiency_charge, efficiency_discharge=st.efficiency_discharge,
                               reactive_power=st.reactive_power),
        ev=EVOptions(aggregation=ev.aggregation, v2g=ev.v2g, efficiency=ev.efficiency,
                     reactive_support=ev.reactive_support))


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
