"""What a planning method hands back: the plan, the days at the plan, bounds and history."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from .formulations.operation import DaySolution

# MWh or MW below which an asset is listed (and drawn) as not built: 1 kWh / 1 kW is no plant. What lies below
# it (solver residue) is reported with its annualised cost in results.json → built_threshold.
BUILT = 1e-3


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


def strict(value, nonfinite=None):
    """`value` with numpy types as Python ones and every NaN or ±inf replaced by `nonfinite(v)` (default: None),
    so that `json.dumps(..., allow_nan=False)` writes standard JSON."""
    if isinstance(value, dict):
        return {k: strict(v, nonfinite) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [strict(v, nonfinite) for v in (value.tolist() if isinstance(value, np.ndarray) else value)]
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return nonfinite(value) if nonfinite else None
    return value


def dumps(value, **kwargs) -> str:
    """Standard JSON (no NaN, no Infinity: undefined figures are null)."""
    return json.dumps(strict(value), allow_nan=False, **kwargs)


def json_default(value):
    """`json.dump(default=…)` for the numpy values in results and checkpoints."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value)}")
