"""`stochplan strategies`'s files: strategies.csv, voltage_bands.png and fleet_soc.png (workflows/strategies.py
runs the study)."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def write_strategies(inst, runs, out) -> None:
    """`runs`: workflows.strategies.StrategyRuns; `out` the claimed output directory."""
    with out.publish() as tmp:
        runs.table.to_csv(tmp / "strategies.csv", index=False, float_format="%.6g")
        plot_strategies(inst, runs.day, runs.bands, runs.socs, tmp, runs.soc_goal)


def plot_strategies(inst, day, bands: dict, socs: dict, out: Path, soc_goal: float) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ref, name = inst.ref, inst.case.name
    hours = np.arange(day.steps) * day.dt_h
    start = inst.case.time.horizon_start_h
    fig, axes = plt.subplots(1, len(bands), figsize=(3.2 * len(bands), 3.6), sharey=True)
    for ax, (strategy, v) in zip(np.atleast_1d(axes), bands.items()):
        q = np.nanpercentile(v, [0, 25, 50, 75, 100], axis=0)
        ax.fill_between(hours, q[0], q[4], alpha=0.25, color="tab:blue", label="min–max over buses")
        ax.fill_between(hours, q[1], q[3], alpha=0.45, color="tab:blue", label="25–75 %")
        ax.plot(hours, q[2], color="tab:blue", lw=1, label="median")
        for limit in (ref.v_min_pu, ref.v_max_pu):
            ax.axhline(limit, color="tab:red", ls="--", lw=0.8)
        ax.set_title(strategy)
        ax.set_xlabel(f"hours from {start:g}:00")
    np.atleast_1d(axes)[0].set_ylabel("voltage [pu] (AC power flow)")
    np.atleast_1d(axes)[0].legend(fontsize=7, loc="lower left")
    fig.suptitle(f"Voltage across buses by charging strategy — {name}, day {day.day} (limits dashed)")
    fig.tight_layout()
    fig.savefig(out / "voltage_bands.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4))
    edges = np.arange(day.steps + 1) * day.dt_h
    for strategy, mean_soc in socs.items():
        ax.plot(edges, 100 * mean_soc, label=strategy, ls="--" if strategy.endswith("+q") else "-")
    ax.axhline(100 * soc_goal, color="grey", lw=0.8, ls=":")
    ax.set(xlabel=f"hours from {start:g}:00", ylabel="mean fleet SOC [%]",
           title=f"Mean SOC of all EVs by charging strategy — {name}, day {day.day}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "fleet_soc.png", dpi=110)
    plt.close(fig)
