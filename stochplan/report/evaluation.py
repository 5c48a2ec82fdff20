"""`stochplan evaluate`'s files: evaluation.json (the plan's out-of-sample yearly cost against its in-sample
estimate) and days.csv (each day's cost)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..instance import Instance
from ..result import DAYS_PER_YEAR, dumps


def write_evaluation(inst: Instance, x, y, in_sample: float, costs: np.ndarray, out, seconds: float) -> dict:
    fs = inst.first
    investment = fs.annual_cost(x, y)
    out_of_sample = investment + DAYS_PER_YEAR * float(costs[:, 0].mean())
    summary = {"case": inst.case.name, "days": len(inst.days), "investment": investment,
               "in_sample_cost": in_sample, "out_of_sample_cost": out_of_sample,
               "gap_percent": 100.0 * (out_of_sample - in_sample) / abs(in_sample),
               "p95_day_cost": float(np.percentile(costs[:, 0], 95)),
               "mean_day_cost": float(costs[:, 0].mean()), "max_day_cost": float(costs[:, 0].max()),
               "penalty_per_year": DAYS_PER_YEAR * float(costs[:, 1].mean()),
               "currency": "EUR/year (day costs EUR/day)", "seconds": seconds}
    with out.publish() as tmp:
        pd.DataFrame({"day": [d.day for d in inst.days], "cost": costs[:, 0], "penalty": costs[:, 1]}).to_csv(
            tmp / "days.csv", index=False, float_format="%.6f")
        (tmp / "evaluation.json").write_text(dumps(summary, indent=2) + "\n")
    return summary
