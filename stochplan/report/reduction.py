"""Files of a scenario reduction: representatives.csv, assignment.csv, reduction.json and medoids.png."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..result import dumps
from ..scenarios import Year


def write_reduction(year: Year, case_name: str, settings: dict, out) -> dict:
    """`out`: the claimed output directory (outdir.OutputDir)."""
    red, days = year.reduction, year.days
    summary = {"case": case_name, "days": len(days), "k": len(red.medoids), **settings,
               "mean_distance_to_medoid": red.mean_distance, "max_distance_to_medoid": red.max_distance,
               "distance_note": "relative to the mean distance of the year's days to its single medoid"}
    with out.publish() as tmp:
        pd.DataFrame({"day": [days[m].day for m in red.medoids], "weight": red.weights,
                      "cluster_size": red.cluster_sizes}).to_csv(tmp / "representatives.csv", index=False)
        pd.DataFrame({"day": [d.day for d in days], "cluster": red.labels,
                      "medoid_day": [days[red.medoids[c]].day for c in red.labels]}).to_csv(
            tmp / "assignment.csv", index=False)
        (tmp / "reduction.json").write_text(dumps(summary, indent=2) + "\n")
        plot_medoids(year, case_name, tmp / "medoids.png")
    return summary


def plot_medoids(year: Year, case_name: str, path: Path) -> None:
    """One panel per cluster: members' feeder load and PV (thin) against the medoid day's (bold)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    red, days = year.reduction, year.days
    k = len(red.medoids)
    cols = min(k, 5)
    rows = int(np.ceil(k / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), sharex=True, sharey=True, squeeze=False)
    hours = days[0].clock_h
    x = np.arange(len(hours))
    for c, ax in enumerate(axes.flat):
        if c >= k:
            ax.axis("off")
            continue
        for d in np.flatnonzero(red.labels == c):
            ax.plot(x, days[d].load_p_mw.sum(0), color="tab:blue", alpha=0.15, lw=0.6)
            ax.plot(x, days[d].pv_avail_mw.sum(0), color="tab:orange", alpha=0.15, lw=0.6)
        m = days[red.medoids[c]]
        ax.plot(x, m.load_p_mw.sum(0), color="tab:blue", lw=2, label="load (medoid)")
        ax.plot(x, m.pv_avail_mw.sum(0), color="tab:orange", lw=2, label="PV available (medoid)")
        ax.set_title(f"day {m.day}: {red.cluster_sizes[c]} days, w={red.weights[c]:.3f}", fontsize=8)
        ticks = x[:: max(1, len(x) // 4)]
        ax.set_xticks(ticks, [f"{hours[t]:02.0f}h" for t in ticks], fontsize=7)
    axes.flat[0].set_ylabel("feeder total [MW]")
    axes.flat[0].legend(fontsize=6, loc="upper left")
    fig.suptitle(f"{case_name}: {k} representative days (bold) and their members (thin)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
