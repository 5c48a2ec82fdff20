"""Assemble a validated problem instance from a case: feeder `Ref`, days, device locations, first stage.

Everything a user can get wrong is checked here, before any solve.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import Case
from .errors import InputError
from .formulations.investment import FirstStage, first_stage
from .network import Ref, build_ref, load_net
from .scenarios import Day, build_days


@dataclass(frozen=True)
class Instance:
    case: Case
    ref: Ref
    days: list[Day]
    pv_bus: np.ndarray        # (n_pv,) internal bus index
    storage_bus: np.ndarray   # (K,)
    station_bus: np.ndarray   # (n_st,)
    first: FirstStage


def build_instance(case: Case, k: int | None = None, days: list | None = None) -> Instance:
    """`k` overrides scenarios.k; `days` replaces the case's days (e.g. every day of the year)."""
    ref = build_ref(load_net(case.network.source), case.network, case.name)
    pv_bus = np.array([ref.bus_index(f"pv[{i}].bus", u.bus) for i, u in enumerate(case.pv)], dtype=int)
    storage_bus = np.array([ref.bus_index(f"storage.candidates[{i}]", b)
                            for i, b in enumerate(case.storage.candidates)], dtype=int)
    station_bus = np.array([ref.bus_index(f"chargers.stations[{i}].bus", s.bus)
                            for i, s in enumerate(case.chargers.stations)], dtype=int)
    for name, idx in (("storage.candidates", storage_bus), ("chargers.stations", station_bus), ("pv", pv_bus)):
        if np.any(idx == 0):
            raise InputError(name, f"bus {ref.bus_ids[0]} is the substation; place devices on feeder buses")
    days = build_days(case, ref, k) if days is None else days
    return Instance(case=case, ref=ref, days=days, pv_bus=pv_bus, storage_bus=storage_bus,
                    station_bus=station_bus, first=first_stage(case))
