"""The EV-controllability study: the same case planned at several controllable shares of the fleet."""
from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pandas as pd

from ..decomposition import solve_benders
from ..instance import build_instance
from .economics import baseline_solutions, economics

log = logging.getLogger(__name__)


def run_study(case, shares: list[float], out) -> pd.DataFrame:
    """`out`: the claimed output directory (outdir.OutputDir)."""
    rows = []
    for share in shares:
        log.info("controllable share %.2f", share)
        inst = build_instance(replace(case, ev=replace(case.ev, controllable_share=share)))
        res = solve_benders(inst)
        econ = economics(inst, res, baseline_solutions(inst, res))
        e, p, _ = inst.first.split(res.x)
        row = {"share": share}
        for bus, ei, pi in zip(inst.first.storage_buses, e, p):
            row[f"storage_mwh_bus{bus}"], row[f"storage_mw_bus{bus}"] = float(ei), float(pi)
        row.update(total_storage_mwh=float(e.sum()), yearly_cost_eur=res.upper_bound,
                   carbon_reduction_percent=econ["carbon_reduction_percent"],
                   pv_utilisation=econ["plan"]["pv_utilisation"], converged=res.converged)
        rows.append(row)
    table = pd.DataFrame(rows)
    with out.publish() as tmp:
        table.to_csv(tmp / "study.csv", index=False, float_format="%.6g")
        plot_study(case.name, table, tmp / "study.png")
    return table


def plot_study(case_name: str, table: pd.DataFrame, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b, c) = plt.subplots(1, 3, figsize=(12, 3.6))
    x = 100 * table.share
    a.plot(x, table.total_storage_mwh, "o-", label="total storage")
    a.set_ylabel("storage energy [MWh]")
    b.plot(x, table.carbon_reduction_percent, "o-", color="tab:green", label="vs baseline")
    b.set_ylabel("carbon reduction [%]")
    pv = table.pv_utilisation.astype(float)
    c.plot(x, 100 * pv, "o-", color="tab:orange", label="PV used / available")
    c.set_ylabel("PV utilisation [%]")
    c.set_ylim(max(0.0, 100 * pv.min() - 5), 100.5)
    for ax in (a, b, c):
        ax.ticklabel_format(axis="y", useOffset=False)
        ax.set_xlabel("controllable EVs [% of fleet]")
        ax.legend(fontsize=8)
    fig.suptitle(f"{case_name}: planning results against EV controllability")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
