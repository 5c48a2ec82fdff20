"""What `stochplan plan` does with each planned day at the final plan, on the rank where Benders solved it
(DayEvaluator's day task): the AC check of its dispatch and the same day operated as business as usual.
Rank 0 then assembles both in day order. The extensive form runs the same two, one day after another.
With several ranks, each then draws a share of the plan's figures (the plan task; rank 0 writes them).

The baseline does not depend on the plan: where a helper can be forked (parallel/helper.py: no MPI launcher,
more than one core) it is solved in a helper process while the plan is being found — beside forked workers on
CPU time they leave idle (SCHED_IDLE) — and the day task only checks the dispatch. Where the loop left that helper
too little idle time (many days, a short loop: at K = 50 on two workers it had ~1.3 of its ~3 CPU-seconds), the
day task on rank 0 forks a second one at normal priority that takes the days left from the other end
(parallel/helper.BothEnds). Otherwise the first finishes them alone on one core once the ranks are done, the
other core idle: rank 0 waited 1.4–1.95 s for it there, 0.6–1.1 s with the second. Without a helper, on several
ranks, its days are Benders' spare work (decomposition/evaluator.SpareWork): ranks > 0 solve them while rank 0
computes the warm start (an MPI rank waiting for rank 0 polls at full speed: that time is otherwise lost), and
the days left are spread by measured cost after the loop — once a rank has built the baseline's model (0.3–0.5 s
on the default case) a day costs it 0.05 s, so the days left mostly go to ranks that have one."""
from __future__ import annotations

import logging
import os

import numpy as np
import pandas as pd

from ..errors import SolverError
from ..instance import Instance
from ..parallel.helper import BothEnds, Helper
from ..report.plots import rank_share, render
from ..result import DaySolution, Iteration, PlanResult
from .economics import Baseline, BaselineDays
from .validation import COLUMNS, DayCheck

log = logging.getLogger(__name__)


class FinalDay:
    def __init__(self, inst: Instance, validate: bool, helper: bool = False):
        """`helper`: start the baseline's days in a helper process now (use as a context manager, which ends
        it if the run stops before `assemble`)."""
        self.inst = inst
        self.check = DayCheck(inst) if validate else None
        self.baseline = BaselineDays(inst)
        self.owner = os.getpid()            # only this process may fork or wait for helpers (ranks are its forks)
        self.shared = BothEnds(len(inst.days)) if helper else None
        self.beside = Helper(lambda: self._baseline_share(back=False), background=True) if helper else None
        self.second: Helper | None = None   # the helper from the other end (see the module)
        self.spared = False                 # the baseline's days are Benders' spare work (see the module)
        self._spared_days: list | None = None
        self._spared_early = 0

    def __enter__(self) -> FinalDay:
        return self

    def __exit__(self, *exc) -> None:
        for helper in (self.beside, self.second):
            if helper is not None:
                helper.cancel()

    def __call__(self, d: int, solution: DaySolution) -> dict:
        """Day d's AC check rows (None without validation) and its business-as-usual solution, unless a helper or
        Benders' spare work solves those. On rank 0 it first forks the baseline's second helper where that pays."""
        if os.getpid() == self.owner:
            self.share_baseline()
        baseline, failed = (None, None) if self.beside is not None or self.spared else self._baseline_day(d)
        return {"ac": self.check(d, solution) if self.check else None, "baseline": baseline, "failed": failed}

    def figures(self, rank: int, size: int, plan: np.ndarray, solutions: list[DaySolution],
                history: list[Iteration]) -> dict[str, bytes]:
        """This rank's share of the plan's figures as PNG bytes (Benders' plan task on several ranks)."""
        return render(self.inst, plan, solutions, history, rank_share(self.inst, rank, size,
                                                                    first=0 if self.spared else 1))

    # The baseline's days as Benders' spare work (evaluator.SpareWork), where there is no helper.
    @property
    def spare_work(self) -> FinalDay | None:
        return None if self.beside is not None else self

    @property
    def units(self) -> int:
        return len(self.inst.days)

    def lent(self) -> None:
        self.spared = True

    def do(self, d: int) -> tuple[DaySolution | None, tuple | None]:
        return self._baseline_day(d)

    def collect(self, results: list, early: int) -> None:
        self._spared_days, self._spared_early = results, early

    def share_baseline(self) -> bool:
        """Fork the second helper if the first still has days to go and they cost more than its set-up
        (BothEnds.worth_a_second); at most once. → whether it was forked."""
        if self.beside is None or self.second is not None or self.beside.ready() \
                or not self.shared.worth_a_second():
            return False
        self.second = Helper(lambda: self._baseline_share(back=True))
        return True

    def assemble(self, res: PlanResult) -> tuple[pd.DataFrame | None, Baseline]:
        """(validation table or None, baseline) from `res.day_results`, or computed here when the plan came
        without them (the extensive form)."""
        per_day = res.day_results or [self(d, sol) for d, sol in enumerate(res.solutions)]
        if self.beside is not None:
            baseline_days, charger_mw = self._helped()
        elif self.spared:
            baseline_days, charger_mw = self._spared_days, None
            log.info("business-as-usual baseline: %d of %d days solved on the other ranks during the warm start",
                     self._spared_early, len(baseline_days))
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

    def _baseline_share(self, back: bool) -> tuple[dict, np.ndarray]:
        """A helper's task: the baseline's days it takes (BothEnds), by day, and the baseline's charger sizes."""
        return self.shared.run(self._baseline_day, back), self.baseline.charger_mw

    def _helped(self) -> tuple[list, np.ndarray]:
        """The helpers' days in day order, and the charger sizes."""
        days, charger_mw = self.beside.result()
        if self.second is not None:
            more, _ = self.second.result()
            log.info("business-as-usual baseline: %d of %d days solved by a second helper after the loop",
                     len(more), len(self.inst.days))
            days.update(more)
        return [days[d] for d in range(len(self.inst.days))], charger_mw
