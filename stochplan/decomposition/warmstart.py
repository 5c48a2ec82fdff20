"""Benders' first plan (`benders.warm_start_days` = m > 0): the exact optimum of the planned days reduced to m.

The K planned days are clustered once more by the case's own K-Medoids (the same features, metric and seed as
the year's reduction to K); the m medoids, each carrying its cluster's weight, make a small two-stage problem
that the extensive form solves exactly (branch-and-bound over the sites). Its plan x₀ is a plan of the full
problem — the first stage does not depend on the days — so iteration 0 prices it instead of "build nothing":
its cuts are valid like any priced plan's, and it becomes the first incumbent, i.e. the first centre of the
level and interior-level steps. Why this and not the cuts the issue also names: pricing each day at its own
optimum or at the EF relaxation's optimum was measured before (README, "Tried"): the first bounds only the
lower bound and costs iterations elsewhere, the second costs a whole EF. The reduced EF costs about one round
of day solves on the default case (0.7 s) and starts the level steps next to the optimum: 14 → 9 iterations.

With `benders.warm_start_within` = δ > 0 the reduced problem's branch-and-bound also proves every other siting
whose optimum lies within δ of its best, and iteration 0 prices each of those plans as well. Where sitings are
near-equal, the loop's work is the lower bound — proving each of them worse by cuts at its own sizes — and each
now starts with cuts at its own (nearly) best sizes: SimBench MV, ten three-site sitings within 1 % on the two
medoid days, 51 iterations instead of 109 (loop 96.6 against 138.6 s on two workers; README, A larger feeder).
The search then has many nodes, and Benders' other ranks solve them with rank 0 (evaluator.share_nodes).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import SolverError
from ..formulations.extensive import solve_extensive
from ..instance import Instance
from ..scenarios.days import Day, day_features
from ..scenarios.reduction import reduce_days

log = logging.getLogger(__name__)


@dataclass
class WarmStart:
    x: np.ndarray
    y: np.ndarray
    days: list[int]          # the medoids' days of the year
    weights: list[float]     # their cluster weights (sum: the planned days' weight)
    value_eur: float         # the reduced problem's optimum [EUR/year]
    nodes: int               # branch-and-bound nodes solved
    seconds: float
    others: list = field(default_factory=list)    # (value [EUR/year], x, y) of the other sitings within the margin
    storage_buses: list = field(default_factory=list)

    @property
    def plans(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """What iteration 0 prices: the reduced optimum, then the other sitings' plans, best first."""
        return [(self.x, self.y)] + [(x, y) for _, x, y in self.others]

    def to_json(self) -> dict:
        """What results.json and the checkpoint keep (the seconds go with the run's timings)."""
        buses = np.asarray(self.storage_buses)
        return {"days": self.days, "weights": self.weights, "value_eur": self.value_eur, "nodes": self.nodes,
                "other_sitings": [{"storage_buses": buses[y > 0.5].tolist(), "value_eur": float(value)}
                                  for value, _, y in self.others]}


def reduced_days(inst: Instance, m: int) -> list[Day]:
    """The planned days reduced to m medoids by the case's K-Medoids, each weighted by its cluster."""
    sc, days = inst.case.scenarios, inst.days
    reduction = reduce_days(day_features(days, sc.normalisation), m, sc.metric, sc.seed, sc.backend,
                            "benders.warm_start_days")
    weights = np.array([d.weight for d in days])
    return [replace(days[i], weight=float(weights[reduction.labels == c].sum()))
            for c, i in enumerate(reduction.medoids)]


def reduced_instance(inst: Instance, m: int) -> Instance:
    """The instance on its days reduced to m (`reduced_days`): the same on every rank."""
    return replace(inst, days=reduced_days(inst, m))


def warm_start(inst: Instance, m: int, before: Callable[[], None] | None = None, within: float = 0.0,
               share: Callable[[int], object | None] | None = None) -> WarmStart | None:
    """The exact plan of the days reduced to m, or None where there is nothing to reduce (m = 0, or m ≥ K: the
    reduced problem would be the whole one) or its solve failed: a warning, and Benders starts from "build
    nothing" — the warm start only saves iterations, the run does not depend on it. `before()` is called just
    before the work starts (Benders lends the other ranks' time: evaluator.DayEvaluator.lend). `within` > 0:
    with the other sitings' plans whose reduced optimum lies within that margin of the best (see the module);
    then `share(m)`, where given, lets the other ranks solve the branch-and-bound's nodes too (→ their comm, or
    None: there is no one to share with) — they cannot do `before`'s work meanwhile."""
    if m <= 0:
        return None
    if m >= len(inst.days):
        log.info("no warm start: %d of %d planned days would be all of them", m, len(inst.days))
        return None
    start = time.perf_counter()
    reduced = reduced_instance(inst, m)      # before the other ranks are told: they compute the same
    days = reduced.days
    comm = share(m) if share is not None and within > 0 else None
    if comm is None and before is not None:
        before()
    try:
        res = solve_extensive(reduced, quiet=True, within=within, comm=comm, started=comm is not None)
    except SolverError as exc:
        log.warning("warm start: %s; Benders starts from 'build nothing' instead", exc)
        return None
    warm = WarmStart(x=res.x, y=res.y, days=[d.day for d in days], weights=[d.weight for d in days],
                     value_eur=res.upper_bound, nodes=res.timings["nodes"], seconds=time.perf_counter() - start,
                     others=res.alternatives or [], storage_buses=list(inst.first.storage_buses))
    log.info("warm start: the exact plan of %d medoid days (%s) of %d%s, %d branch-and-bound nodes%s, %.1f s",
             m, ", ".join(str(d) for d in warm.days), len(inst.days),
             f" and of the {len(warm.others)} other siting(s) within {within:.1%} of it" if within > 0 else "",
             warm.nodes, f" on {comm.size} ranks" if comm is not None else "", warm.seconds)
    return warm
