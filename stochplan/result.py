"""What a planning method hands back: the plan, the days at the plan, bounds and history."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .formulations.operation import DaySolution


@dataclass
class Iteration:
    iteration: int
    lower_bound: float
    upper_bound: float
    gap: float
    master_s: float
    subproblems_s: float
    phase: str = "milp"      # "init", "lp" (master relaxation) or "milp"


@dataclass
class PlanResult:
    method: str
    x: np.ndarray
    y: np.ndarray
    investment_eur: float
    solutions: list[DaySolution]            # the days at the chosen plan
    lower_bound: float
    upper_bound: float
    gap: float
    converged: bool
    stop_reason: str
    history: list[Iteration] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    exactness: dict = field(default_factory=dict)   # the exact model at the final plan (benders.exactness)


def json_default(value):
    """`json.dump(default=…)` for the numpy values in results and checkpoints."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value)}")
