"""Out-of-sample evaluation: a plan fixed, every day of the profile year solved, the yearly cost compared
with the plan's in-sample estimate. Days are spread over the ranks of the parallel layer; each rank
builds, solves and drops its days one at a time (a year of models would not fit in memory together).
"""
from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..formulations.operation import DayModels, solve_day
from ..instance import Instance
from ..parallel import SerialComm
from ..parallel.pool import DayPool

log = logging.getLogger(__name__)


def _real(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and bool(np.isfinite(value))


def read_plan(plan_path: Path, field: str = "--plan") -> dict:
    """A `stochplan plan` results.json, checked for the fields `evaluate` and `validate` use; a missing,
    broken or wrongly shaped file is one input error naming `field`, the file and the bad entry."""
    where = f"{field} ({plan_path})"
    try:
        doc = json.loads(Path(plan_path).read_text())
    except FileNotFoundError:
        raise InputError(field, f"'{plan_path}' not found; give the results.json of `stochplan plan`") from None
    except (json.JSONDecodeError, UnicodeDecodeError, IsADirectoryError) as exc:
        raise InputError(field, f"'{plan_path}' is not a JSON file ({exc})") from None

    kinds = {"number": ("a finite number ≥ 0", lambda v: _real(v) and v >= 0), "real": ("a finite number", _real),
             "bus": ("a bus index", lambda v: isinstance(v, int) and not isinstance(v, bool)),
             "list": ("a list", lambda v: isinstance(v, list)), "table": ("an object", lambda v: isinstance(v, dict))}

    def need(container, key, path, kind):
        if not isinstance(container, dict) or key not in container:
            raise InputError(where, f"{path} is missing; give the results.json of `stochplan plan`")
        what, ok = kinds[kind]
        if not ok(container[key]):
            raise InputError(where, f"{path} must be {what}, got {container[key]!r}")
        return container[key]

    need(need(doc, "objective", "objective", "table"), "total", "objective.total", "real")
    for i, s in enumerate(need(doc, "storage", "storage", "list")):
        need(s, "bus", f"storage[{i}].bus", "bus")
        need(s, "energy_mwh", f"storage[{i}].energy_mwh", "number")
        need(s, "power_mw", f"storage[{i}].power_mw", "number")
    for i, c in enumerate(need(doc, "chargers", "chargers", "list")):
        need(c, "bus", f"chargers[{i}].bus", "bus")
        need(c, "capacity_mw", f"chargers[{i}].capacity_mw", "number")
    days = need(doc, "scenarios", "scenarios", "list")
    if not days:
        raise InputError(where, "scenarios is empty; give the results.json of `stochplan plan`")
    for i, d in enumerate(days):
        need(d, "day", f"scenarios[{i}].day", "bus")
        need(d, "weight", f"scenarios[{i}].weight", "number")
    return doc


def plan_vector(inst: Instance, doc: dict, field: str = "--plan") -> tuple[np.ndarray, np.ndarray, float]:
    """A checked results.json document → (x, y, its objective total). Every built asset must sit on a
    candidate of this case."""
    fs = inst.first
    e, p, c = (np.zeros(fs.n_storage), np.zeros(fs.n_storage), np.zeros(len(fs.station_buses)))
    for i, s in enumerate(doc["storage"]):
        if s["bus"] not in fs.storage_buses:
            raise InputError(f"{field} storage[{i}].bus", f"bus {s['bus']} is not a storage candidate of this case")
        k = fs.storage_buses.index(s["bus"])
        e[k], p[k] = s["energy_mwh"], s["power_mw"]
    for i, ch in enumerate(doc["chargers"]):
        if ch["bus"] not in fs.station_buses:
            raise InputError(f"{field} chargers[{i}].bus", f"bus {ch['bus']} is not a charger station of this case")
        c[fs.station_buses.index(ch["bus"])] = ch["capacity_mw"]
    x = np.concatenate([e, p, c])
    if np.any(x > fs.x_max + 1e-6):
        raise InputError(field, "a planned size lies above this case's bounds")
    y = ((e > 0) | (p > 0)).astype(float)
    return np.clip(x, 0, fs.x_max), y, float(doc["objective"]["total"])


def evaluate_year(inst: Instance, x: np.ndarray, comm=None, progress: bool = True) -> np.ndarray | None:
    """(days × 2): each day's operating cost and penalty [EUR/day], in day order (rank 0; None elsewhere).
    Each rank builds, solves and drops its days one at a time."""
    comm = comm or SerialComm()
    with comm.serving(lambda: _evaluate_mine(inst, x, comm, progress=False) or 0):    # forked workers' ranks
        return _evaluate_mine(inst, x, comm, progress)


def _evaluate_mine(inst: Instance, x: np.ndarray, comm, progress: bool) -> np.ndarray | None:
    pool = DayPool(comm, len(inst.days), label=lambda d: inst.days[d].day)
    bar = None
    if progress and comm.rank == 0:
        from tqdm import tqdm
        bar = tqdm(total=len(pool.mine()), desc=f"days on rank 0 of {comm.size}", unit="day", file=sys.stderr)

    models = DayModels(inst, len(pool.mine()), keep=False)     # each day is solved once

    def one(d: int) -> np.ndarray:
        sol = solve_day(models(d), x)
        return np.array([sol.cost_eur, sol.parts_eur.get("penalty", 0.0)])

    table = pool.solve(one, 2, on_done=bar.update if bar is not None else None)
    if bar is not None:
        bar.close()
    return pool.check(table)
