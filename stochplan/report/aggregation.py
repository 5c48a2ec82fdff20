"""`stochplan ev-aggregation`'s files: aggregation.csv and aggregation.png (workflows/aggregation.py runs it)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd


def write_aggregation(case_name: str, table: pd.DataFrame, out) -> None:
    with out.publish() as tmp:
        table.to_csv(tmp / "aggregation.csv", index=False, float_format="%.6g")
        plot_aggregation(table, case_name, tmp / "aggregation.png")


COLOURS = {"envelope": "tab:red", "interval": "tab:blue", "individual": "tab:green"}


def plot_aggregation(table: pd.DataFrame, case_name: str, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_err, ax_time) = plt.subplots(1, 2, figsize=(11, 4.2))
    for (population, kind), group in table.groupby(["sessions", "model"], sort=False):
        style = {"marker": "o" if population == "mixed" else "s", "ls": "-" if population == "mixed" else ":",
                 "color": COLOURS[kind], "label": f"{kind}, {population}"}
        ax_err.plot(group.n_evs, 100 * group.tracking_nrmse.clip(lower=1e-6), **style)
        ax_time.plot(group.n_evs, group.build_s + group.solve_s, **style)
    ax_err.set(xscale="log", yscale="log", xlabel="EVs at the station",
               ylabel="tracking nRMSE [% of peak power] (1e-4: exact)",
               title=f"Disaggregation error by region — {case_name}")
    ax_time.set(xscale="log", yscale="log", xlabel="EVs at the station", ylabel="build + solve [s]",
                title="Station problem time")
    for ax in (ax_err, ax_time):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(title="region, sessions", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
