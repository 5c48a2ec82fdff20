"""The EV-controllability study's files: study.csv and study.png (workflows/study.py runs it)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd


def write_study(case_name: str, table: pd.DataFrame, out) -> None:
    """`out`: the claimed output directory (outdir.OutputDir)."""
    with out.publish() as tmp:
        table.to_csv(tmp / "study.csv", index=False, float_format="%.6g")
        plot_study(case_name, table, tmp / "study.png")


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
