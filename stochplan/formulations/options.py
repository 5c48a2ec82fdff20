"""What a day model needs besides the Ref and the day: the modelling choices and prices, as plain numbers.

Built once from the case by instance.py (`operation_options`); formulations read this, never the case config.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..network import Ref
from ..scenarios import Day
from .investment import FirstStage


@dataclass(frozen=True)
class StorageOptions:
    soc_min: float                   # share of the energy rating
    soc_max: float
    loss_resistance_pu: float        # virtual resistance on the system base (storage_model "virtual_resistance")
    efficiency_charge: float         # storage_model "efficiency"
    efficiency_discharge: float
    reactive_power: bool             # four-quadrant inverter ‖(p, q)‖ ≤ P; false: |p| ≤ P, q = 0


@dataclass(frozen=True)
class EVOptions:
    aggregation: str                 # station region: "envelope" | "interval" | "individual"
    v2g: bool
    efficiency: float                # grid → battery
    reactive_support: bool           # 4-quadrant chargers: p² + q² ≤ C² per station


@dataclass(frozen=True)
class OperationOptions:
    formulation: str                 # "socp" | "lindistflow"
    storage_model: str               # "virtual_resistance" | "efficiency"
    capacity_floor: float            # share of each bound present before any build (0: the model as stated)
    load_shed: str                   # "power_factor" | "active"
    load_shed_cost_eur_per_mwh: float
    ev_unmet_cost_eur_per_mwh: float
    balance_weight_eur: float        # EUR per day per unit of balance index
    carbon_price_eur_per_t: float
    storage: StorageOptions
    ev: EVOptions


class DayInputs(Protocol):
    """What build_operation reads (instance.Instance is one): the feeder with its devices, the first stage's
    sizes and bounds, and the options."""
    ref: Ref
    first: FirstStage
    options: OperationOptions


class PlanInputs(DayInputs, Protocol):
    """What the extensive form reads: the above and the days."""
    days: list[Day]
