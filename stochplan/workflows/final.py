"""What `stochplan plan` does with each planned day at the final plan, on the rank where Benders solved it
(DayEvaluator's day task): the AC check of its dispatch and the same day operated as business as usual.
Rank 0 then assembles both in day order. The extensive form runs the same two, one day after another.
With several ranks, each then draws a share of the plan's figures (the plan task; rank 0 writes them).

The baseline does not depend on the plan: where a helper can be forked (parallel/helper.py: no MPI launcher,
more than one core) it is solved in a helper process while the plan is being found — beside forked workers on
CPU time they leave idle (SCHED_IDLE) — and the day task only checks the dispatch."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import SolverError
from ..instance import Instance
from ..parallel.helper import Helper
from ..report.plots import rank_share, render
from ..result import DaySolution, Iteration, PlanResult
from .economics import Baseline, BaselineDays
from .validation import COLUMNS, DayCheck


class FinalDay:
    def __init__(self, inst: Instance, validate: bool, helper: bool = False):
        """`helper`: start the baseline's days in a helper process now (use as a context manager, which ends
        it if the run stops before `assemble`)."""
        self.inst = inst
        self.check = DayCheck(inst) if validate else None
        self.baseline = BaselineDays(inst)
        self.beside = Helper(self._every_baseline_day, background=True) if helper else None

    def __enter__(self) -> FinalDay:
        return self

    def __exit__(self, *exc) -> None:
        if self.beside is not None:
            self.beside.cancel()

    def __call__(self, d: int, solution: DaySolution) -> dict:
        """Day d's AC check rows (None without validation) and, unless a helper solves them, its business-as-usual
        solution."""
        baseline, failed = (None, None) if self.beside is not None else self._baseline_day(d)
        return {"ac": self.check(d, solution) if self.check else None, "baseline": baseline, "failed": failed}

    def figures(self, rank: int, size: int, plan: np.ndarray, solutions: list[DaySolution],
                history: list[Iteration]) -> dict[str, bytes]:
        """This rank's share of the plan's figures as PNG bytes (Benders' plan task on several ranks)."""
        return render(self.inst, plan, solutions, history, rank_share(self.inst, rank, size))

    def assemble(self, res: PlanResult) -> tuple[pd.DataFrame | None, Baseline]:
        """(validation table or None, baseline) from `res.day_results`, or computed here when the plan came
        without them (the extensive form)."""
        per_day = res.day_results or [self(d, sol) for d, sol in enumerate(res.solutions)]
        if self.beside is not None:
            baseline_days, charger_mw = self.beside.result()
        else:
            baseline_days, charger_mw = [(day["baseline"], day["failed"]) for day in per_day], None
        for d, (_, failed) in enumerate(baseline_days):
            if failed is not None:
                status, message = failed
                raise SolverError(f"business-as-usual baseline, day {self.inst.days[d].day}", status, message)
        validation = pd.DataFrame([row for day in per_day for row in day["ac"]], columns=COLUMNS) \
            if self.check else None
        return validation, Baseline([solution for solution, _ in baseline_days],
                                    self.baseline.charger_mw if charger_mw is None else charger_mw)

    def _baseline_day(self, d: int) -> tuple[DaySolution | None, tuple | None]:
        """(business-as-usual solution, None), or (None, (status, message)) when its solve failed: raised on
        rank 0 by `assemble` — raised on another rank, it would leave rank 0 waiting in the gather."""
        try:
            return self.baseline.solve(d), None
        except SolverError as exc:
            return None, (exc.status, str(exc))

    def _every_baseline_day(self) -> tuple[list, object]:
        return [self._baseline_day(d) for d in range(len(self.inst.days))], self.baseline.charger_mw
