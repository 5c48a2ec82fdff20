"""What `stochplan plan` does with each planned day at the final plan, on the rank where Benders solved it
(DayEvaluator's day task): the AC check of its dispatch and the same day operated as business as usual.
Rank 0 then assembles both in day order. The extensive form runs the same two, one day after another."""
from __future__ import annotations

import pandas as pd

from ..errors import SolverError
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
        """Day d's AC check rows (None without validation) and its business-as-usual solution. A failed baseline
        solve travels back as (status, message) and is raised on rank 0 by `assemble`: raised here, on another
        rank, it would leave rank 0 waiting in the gather."""
        try:
            baseline, failed = self.baseline.solve(d), None
        except SolverError as exc:
            baseline, failed = None, (exc.status, str(exc))
        return {"ac": self.check(d, solution) if self.check else None, "baseline": baseline, "failed": failed}

    def assemble(self, res: PlanResult) -> tuple[pd.DataFrame | None, Baseline]:
        """(validation table or None, baseline) from `res.day_results`, or computed here when the plan came
        without them (the extensive form)."""
        per_day = res.day_results or [self(d, sol) for d, sol in enumerate(res.solutions)]
        for d, day in enumerate(per_day):
            if day["failed"] is not None:
                status, message = day["failed"]
                raise SolverError(f"business-as-usual baseline, day {self.inst.days[d].day}", status, message)
        validation = pd.DataFrame([row for day in per_day for row in day["ac"]], columns=COLUMNS) \
            if self.check else None
        return validation, Baseline([day["baseline"] for day in per_day], self.baseline.charger_mw)
