"""What a planning method hands back: the plan, the days at the plan, bounds and history."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

# MWh or MW below which an asset is listed (and drawn) as not built: 1 kWh / 1 kW is no plant. What lies below
# it (solver residue) is reported with its annualised cost in results.json → built_threshold.
BUILT = 1e-3
DAYS_PER_YEAR = 365.0    # the yearly cost is 365 × the weighted mean day
PARTS = ("energy", "carbon", "penalty", "balance")    # the parts of a day's operating cost


@dataclass
class DaySolution:
    day: int
    cost_eur: float                      # operating cost of the day's dispatch, all parts [EUR]
    parts_eur: dict[str, float]          # energy, carbon, penalty, balance
    gradient: np.ndarray                 # ∂Q_ρ/∂x̂ [EUR per MWh or MW]: the cut's slope
    relaxation_gap: float                # max over branches and steps of v_i ℓ_ij − P² − Q² [pu²]
    carbon_t: float
    pv_used_mwh: float
    pv_available_mwh: float
    shed_mwh: float
    ev_unmet_mwh: float
    dispatch: dict[str, np.ndarray]      # engineering units
    value_eur: float = 0.0               # Q_ρ(x̂) = cost + ½ Σ w r² [EUR]: the cut's value at x̂
    residue: float = 0.0                 # max |r| [MWh, MW]: how far the dispatch's capacity is from x̂
    retries: int = 0                     # Clarabel retries this solve took (solvers/conic.py)
    solver_s: float = 0.0                # seconds inside Clarabel


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
    day_results: list | None = None   # per day, what Benders' day_task made where the day was solved
    siting_bounds: list[dict] | None = None   # Benders: each siting's least possible cost (benders.siting_bounds)
    rank_results: list | None = None  # by rank, what Benders' plan_task made at the chosen plan (several ranks)
    warm_start: dict | None = None    # Benders: the warm start's days and value (decomposition/warmstart.py)
    plans_priced: int = 0             # Benders: plans priced on every day, iteration 0's included
    alternatives: list | None = None  # EF with a margin: the other sitings' optima (value, x, y) within it


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


def yearly(inst, solutions: list[DaySolution]) -> dict:
    """Yearly figures of a set of day solutions (365 · Σ_s π_s ·), shared by results.json and the economics."""
    w = np.array([d.weight for d in inst.days]) * DAYS_PER_YEAR
    parts = {k: float(w @ [s.parts_eur.get(k, 0.0) for s in solutions]) for k in PARTS}
    pv_avail = float(w @ [s.pv_available_mwh for s in solutions])
    return {
        "operation_eur": parts,
        "carbon_t_per_year": float(w @ [s.carbon_t for s in solutions]),
        "carbon_t_per_day": [s.carbon_t for s in solutions],
        "pv_utilisation": float(w @ [s.pv_used_mwh for s in solutions]) / pv_avail if pv_avail > 0 else None,
        "peak_import_mw": float(max(s.dispatch["import_mw"].max() for s in solutions)),
        "peak_line_loading": float(max(s.dispatch["loading"].max() for s in solutions))
        if "loading" in solutions[0].dispatch else None,
        "min_voltage_pu": float(min(s.dispatch["v_pu"].min() for s in solutions)),
        "ev_unmet_mwh_per_year": float(w @ [s.ev_unmet_mwh for s in solutions]),
        "load_shed_mwh_per_year": float(w @ [s.shed_mwh for s in solutions]),
    }
