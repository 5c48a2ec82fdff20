"""The EV-controllability study: the same case planned at several controllable shares of the fleet."""
from __future__ import annotations

import logging
from dataclasses import replace

import pandas as pd

from ..decomposition import solve_benders
from ..instance import build_instance
from ..parallel.workers import local_ranks
from .economics import baseline_solutions, economics

log = logging.getLogger(__name__)


def run_study(case, shares: list[float], workers: int | None = None) -> pd.DataFrame:
    """One row per share: the storage built, the yearly cost, carbon and PV use against the baseline. Each
    plan's days are priced on `workers` forked processes (parallel/workers.local_ranks)."""
    rows = []
    for share in shares:
        log.info("controllable share %.2f", share)
        inst = build_instance(replace(case, ev=replace(case.ev, controllable_share=share)))
        res = solve_benders(inst, comm=local_ranks(workers, len(inst.days)))
        econ = economics(inst, res, baseline_solutions(inst))
        e, p, _ = inst.first.split(res.x)
        row = {"share": share}
        for bus, ei, pi in zip(inst.first.storage_buses, e, p):
            row[f"storage_mwh_bus{bus}"], row[f"storage_mw_bus{bus}"] = float(ei), float(pi)
        row.update(total_storage_mwh=float(e.sum()), yearly_cost_eur=res.upper_bound,
                   carbon_reduction_percent=econ["carbon_reduction_percent"],
                   pv_utilisation=econ["plan"]["pv_utilisation"], converged=res.converged)
        rows.append(row)
    return pd.DataFrame(rows)
