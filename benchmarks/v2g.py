"""V2G against smart charging on the same case: two `stochplan plan` runs, one table.

    python benchmarks/v2g.py [CASE] [--csv FILE]          (default scenarios/ieee33_pv.toml)

The case is planned as it is with `ev.v2g = false` (smart, unidirectional charging of the controllable EVs) and
with `ev.v2g = true` (a copy with that one key changed, in a temporary folder), and compared on what the
V2G-QUESTS findings are about: import cost (the energy part of the yearly cost), carbon, V2G energy sent to the
grid per year and in which clock hours, the buy price when the fleet discharges against when it charges (a
round trip loses 1 − η² of the energy, so discharging pays only above η² times the charging price), the voltage
range over buses in high-PV hours (steps with at least half of the day's peak PV available), peak line loading
and the storage built. All figures are yearly expectations over the representative days (365 · Σ weight ·).
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

DEFAULT = Path(__file__).resolve().parents[1] / "scenarios" / "ieee33_pv.toml"


def with_v2g(path: Path, v2g: bool, folder: Path) -> Path:
    text = path.read_text()
    new, n = re.subn(r"(?m)^v2g\s*=\s*(true|false)", f"v2g = {'true' if v2g else 'false'}", text)
    if n != 1:
        raise SystemExit(f"{path}: needs exactly one `v2g = ...` line in [ev]")
    target = folder / f"{path.stem}_{'v2g' if v2g else 'smart'}.toml"
    target.write_text(new)
    return target


def plan(case: Path, out: Path) -> dict:
    cmd = [sys.executable, "-m", "stochplan", "plan", str(case), "--out", str(out), "-q"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"stochplan plan failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return json.loads((out / "results.json").read_text())


def figures(doc: dict, out: Path, buy_eur_per_mwh: np.ndarray, efficiency: float) -> dict:
    weight = {s["day"]: 365.0 * s["weight"] for s in doc["scenarios"]}
    grid = pd.read_csv(out / "dispatch_grid.csv")
    devices = pd.read_csv(out / "dispatch_devices.csv")
    volts = pd.read_csv(out / "voltages.csv")
    dt = 24.0 / grid.groupby("day").step.count().iloc[0]
    ev = devices[devices.kind == "ev_station"].copy()
    ev["w"] = ev.day.map(weight)
    ev["v2g_mwh"] = ev.v2g_mw.fillna(0.0) * dt * ev.w
    ev["charge_mwh"] = (ev.p_mw + ev.v2g_mw.fillna(0.0)).clip(lower=0) * dt * ev.w
    ev["price"] = buy_eur_per_mwh[ev.clock_h.astype(int) % len(buy_eur_per_mwh)]
    by_hour = ev.groupby(ev.clock_h.astype(int)).v2g_mwh.sum()
    hours = [f"{h:02d}h" for h, e in by_hour.items() if e > 0.05 * by_hour.max()]
    v2g_total = float(ev.v2g_mwh.sum())
    if v2g_total < 1e-3:                        # below 1 kWh a year: the interior-point solver's residue
        v2g_total = 0.0
    peak = grid.groupby("day").pv_available_mw.transform("max")
    sunny = grid[(grid.pv_available_mw >= 0.5 * peak) & (peak > 0)][["day", "step"]]
    v_sunny = volts.merge(sunny, on=["day", "step"])
    parts = doc["objective"]["parts"]
    return {
        "total cost EUR/yr": doc["objective"]["total"],
        "import cost EUR/yr (energy part)": parts["energy"],
        "carbon t/yr": doc["metrics"]["carbon_t_per_year"],
        "V2G to the grid MWh/yr": v2g_total,
        "V2G hours (clock)": ", ".join(hours) if v2g_total > 0 else "–",
        "mean buy price when discharging EUR/MWh": float(np.average(ev.price, weights=ev.v2g_mwh))
        if v2g_total > 0 else None,
        "mean buy price when charging EUR/MWh": float(np.average(ev.price, weights=ev.charge_mwh)),
        "round-trip break-even (η²)": efficiency ** 2,
        "voltage in high-PV hours pu": f"{v_sunny.v_pu.min():.4f}–{v_sunny.v_pu.max():.4f}",
        "peak line loading": doc["metrics"]["max_line_loading"],
        "storage built MWh": sum(s["energy_mwh"] for s in doc["storage"]),
        "PV utilisation": doc["metrics"]["pv_utilisation"],
        "Benders iterations": doc["benders"]["iterations"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("case", nargs="?", default=str(DEFAULT))
    parser.add_argument("--csv")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from stochplan.config import load_case

    case_path = Path(args.case).resolve()
    case = load_case(case_path)
    buy = np.asarray(case.prices.buy_eur_per_mwh, dtype=float)
    table = {}
    with tempfile.TemporaryDirectory() as tmp:
        for v2g in (False, True):
            copy = with_v2g(case_path, v2g, Path(tmp))
            out = Path(tmp) / ("v2g" if v2g else "smart")
            doc = plan(copy, out)
            table["V2G" if v2g else "smart charging"] = figures(doc, out, buy, case.ev.efficiency)
            print(f"planned {'with' if v2g else 'without'} V2G", flush=True)
    frame = pd.DataFrame(table)
    print(frame.to_string())
    if args.csv:
        frame.to_csv(args.csv)


if __name__ == "__main__":
    main()
