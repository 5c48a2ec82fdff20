"""What `stochplan plan` does with each planned day at the final plan, on the rank where Benders solved it
(DayEvaluator's day task): the AC check of its dispatch and the same day operated as business as usual.
Rank 0 then assembles both in day order. The extensive form runs the same two, one day after another."""
from __future__ import annotations

import pandas as pd

from ..instance import Instance
from ..result import DaySolution, PlanResult
from .economics import Baseline, BaselineDays
from .validation import COLUMNS, DayCheck


class FinalDay:
    def __init__(self, inst: Instance, validate: bool):
        self.inst = inst
        self.check = DayCheck(inst) if validate else None
        self.baseline = BaselineDays(inst)

    def __call__(self, d: int, solution: DaySolution) -> dict:
        """Day d's AC check rows (None without validation) and its business-as-usual solution."""
        return {"ac": self.check(d, solution) if self.check else None, "baseline": self.baseline.solve(d)}

    def assemble(self, res: PlanResult) -> tuple[pd.DataFrame | None, Baseline]:
        """(validation table or None, baseline) from `res.day_results`, or computed here when the plan came
        without them (the extensive form)."""
        per_day = res.day_results or [self(d, sol) for d, sol in enumerate(res.solutions)]
        validation = pd.DataFrame([row for day in per_day for row in day["ac"]], columns=COLUMNS) \
            if self.check else None
        return validation, Baseline([day["baseline"] for day in per_day], self.baseline.charger_mw)
