"""Where to price next: the master's own proposal (Kelley) or a stabilised point near the best plan.

Plain cutting planes jump between the corners of the cut model; on the default case they need 30–40
iterations. Each method below keeps the next point close to what is known to be good, and is one value of
`benders.stabilisation`:

- `level` (level bundle; Lemaréchal, Nemirovskii & Nesterov 1995): project a centre x_c onto the level set
  {cut model ≤ L}, L = LB + γ (UB − LB), with the siting the MILP master chose; x_c is the best plan, its
  storage sizes those of the best plan priced on that siting when there is one (one centre per siting, as
  in-out keeps one core per siting).
- `interior-level` (Pecci & Jenkins, TPWRS 2025; MacroEnergySolvers.jl): a point inside the same level set
  from an interior-point method without crossover, near its analytic centre.
  For both, γ adapts to progress as in MacroEnergySolvers.jl: the step's UB decrease over the decrease the
  level asked for, r ≤ 0.2 → γ ← 0.9 − (0.9 − γ)/2 (a smaller step), r ≥ 0.8 → γ ← γ/2 (a bolder one).
- `trust-region` (box step; Göke et al., arXiv 2208.07078; AnyMOD.jl): the master's optimum with x within
  x_c ± Δ x̄; Δ doubles after a step that realised at least half the predicted decrease on a binding box,
  halves after a step that did not improve the best plan; when the box predicts no decrease at all, the
  master's own point is priced (otherwise the lower bound could never rise).
- `in-out` (Ben-Ameur & Neto 2007; Fischetti, Ljubić & Sinnl 2017): price α x_master + (1 − α) x_core; each
  siting keeps its own core (the best plan priced with those sites); α → 1 after 3 iterations without a rise
  of the lower bound.
- `none`: the master's proposal.

The siting is always the MILP master's (a stabilised step moves only the continuous sizes), so every point
priced in the integer phase is a feasible plan and may become the incumbent. Each method's state is a small
JSON-able dict saved in the checkpoint.

More plans a round (`benders.points_per_round` = P > 1; `extra_points`): where the ranks outnumber the days a
round can price several plans in the time of one. With near-equal sitings the lower bound is what takes the
rounds (SimBench MV: ten three-site sitings within 1 %, each must be proven worse by cuts at its own sizes), so
the level methods add, in this order: the level step of each siting whose bound is not yet within the
tolerance of the best plan, lowest bound first (its own level, bound + γ (UB − bound)); the master's own plan
(its cuts raise the lower bound the most); a deeper level step on the master's siting (γ/4, nearer the lower
bound). The other methods add the master's own plan. Only the first plan steers γ, Δ or α. Measured on
SimBench MV at P = 4 (two workers): 35 rounds, 140 plans; the other sitings' levels at γ/2 instead: 37 rounds;
the master's own plan before the other sitings: 37; each other siting's own master optimum (Kelley) instead of
its level step: a gap of 2.0e-3 after 42 rounds.
"""
from __future__ import annotations

import logging

import numpy as np

from ..errors import SolverError

log = logging.getLogger(__name__)

KINDS = ("level", "interior-level", "trust-region", "in-out", "none")
GAMMA0 = 0.5            # level parameter at the start of a phase (measured: fixed 0.2 stalls the UB at 811 k on
GAMMA_MAX = 0.9         # the default case; an adaptive γ capped at 0.6 instead of 0.9 changes nothing, 31 vs 30)
RADIUS0 = 0.25          # trust region at the start of a phase, share of each bound x̄
RADIUS_MIN = 1e-3
STALL_ITERATIONS = 3    # in-out: iterations without LB rise before α = 1
DEEP = 0.25             # extra points: the deeper level step's share of γ (as first tried; not tuned)


def make(kind: str, alpha: float = 0.5) -> "Stabiliser":
    if kind not in KINDS:
        raise ValueError(f"unknown stabilisation '{kind}'")
    return {"level": Level, "interior-level": Level, "trust-region": TrustRegion, "in-out": InOut,
            "none": Stabiliser}[kind](kind, alpha)


class Stabiliser:
    """`none`: price what the master proposes."""

    def __init__(self, kind: str, alpha: float = 0.5):
        self.kind, self.alpha0 = kind, alpha
        self.state: dict = {}

    def start_phase(self) -> None:
        self.state = {}

    def point(self, master, center, lb: float, ub: float, x_m, y_m, integer: bool):
        """→ (x, y) to price. `center`: the best plan priced in this phase (or None), `ub` its cost."""
        return x_m, y_m

    def extra_points(self, master, center, lb: float, ub: float, x, x_m, y_m, integer: bool, count: int,
                     tol: float) -> list[tuple[np.ndarray, np.ndarray]]:
        """Up to `count` more plans (x, y) to price this round beside `point`'s x (see the module): here the
        master's own plan, when the step moved away from it."""
        return [(x_m, y_m)][:count] if not _same(x, x_m, master) else []

    def priced(self, total: float, lb: float, ub_before: float, ub_after: float, x, y, integer: bool) -> None:
        """Learn from the value of the point just priced."""

    def seen(self, total: float, x, y, integer: bool) -> None:
        """Learn from the value of an extra point of the round (it does not steer the step)."""

    def summary(self) -> str:
        return ""


class Level(Stabiliser):
    def start_phase(self) -> None:
        self.state = {"gamma": GAMMA0, "level": None, "site_centres": {}}

    def point(self, master, center, lb, ub, x_m, y_m, integer):
        if center is None or not np.isfinite(ub) or not np.isfinite(lb) or ub <= lb:
            self.state["level"] = None
            return x_m, y_m
        level = lb + self.state["gamma"] * (ub - lb)
        self.state["level"] = level
        try:
            return self._step(master, center, level, y_m, integer), y_m
        except SolverError as exc:
            # HiGHS's IPM can end 'unknown' on a thin level set (seen at K = 50); the master's own plan lies in
            # the set (its model value is the LB), so the step is still a level step, only not a central one
            log.warning("%s; this step prices the master's own plan", exc)
            return x_m, y_m

    def _step(self, master, center, level: float, y, integer: bool) -> np.ndarray:
        """The sizes of the level step onto {cut model ≤ level} with siting y."""
        if self.kind == "interior-level":
            return master.interior(level, y)
        return master.project(self._centre(master, center, y, integer), level, y)

    def extra_points(self, master, center, lb, ub, x, x_m, y_m, integer, count, tol):
        if center is None or not np.isfinite(ub) or not np.isfinite(lb) or ub <= lb:
            return super().extra_points(master, center, lb, ub, x, x_m, y_m, integer, count, tol)
        gamma, points = self.state["gamma"], []
        wanted = [(bound + gamma * (ub - bound), np.asarray(sites, dtype=float))
                  for bound, sites in _unproven_sitings(master, ub, y_m, integer, tol)]
        wanted += [(None, y_m), (lb + DEEP * gamma * (ub - lb), y_m)]    # the master's plan, a deeper step
        for level, y in wanted:
            if len(points) == count:
                break
            if level is None:
                points += [] if _same(x, x_m, master) else [(x_m, y_m)]
                continue
            try:
                points.append((self._step(master, center, level, y, integer), y))
            except SolverError as exc:
                log.info("%s; one plan fewer this round", exc)
        return points

    def _centre(self, master, best, y_m, integer) -> np.ndarray:
        """The best plan, with the storage sizes of the best plan priced on the siting y_m (if one was).

        Projecting the best plan itself onto another siting's level set pulls the new sites' sizes towards
        the 0 they have there: on the default case the next nine steps priced 893–1 006 k plans against a best
        of 892 k (22 iterations; with this centre 15). The charger sizes do not depend on the siting: they
        stay the best plan's."""
        binary = integer and master.fs.siting == "binary"      # relaxed sites have no siting to key on
        own = self.state["site_centres"].get(_siting_key(y_m)) if binary else None
        if own is None:
            return best
        centre = np.array(best, dtype=float)
        storage = slice(0, 2 * master.fs.n_storage)
        centre[storage] = np.asarray(own[1])[storage]
        return centre

    def seen(self, total, x, y, integer):
        if integer and self.kind == "level":
            centres, key = self.state["site_centres"], _siting_key(y)
            if total < centres.get(key, [np.inf])[0]:
                centres[key] = [float(total), [float(v) for v in x]]

    def priced(self, total, lb, ub_before, ub_after, x, y, integer):
        self.seen(total, x, y, integer)
        level = self.state.get("level")
        if level is None or not np.isfinite(ub_before) or ub_before <= level:
            return
        ratio = (ub_before - ub_after) / (ub_before - level)
        gamma = self.state["gamma"]
        if ratio <= 0.2:
            gamma = GAMMA_MAX - 0.5 * (GAMMA_MAX - gamma)
        elif ratio >= 0.8:
            gamma = 0.5 * gamma
        self.state["gamma"] = gamma

    def summary(self) -> str:
        return f"γ {self.state.get('gamma', GAMMA0):.3f}"


def _siting_key(y) -> str:
    return ",".join(str(int(round(v))) for v in y)


def _same(x, x_m, master) -> bool:
    return bool(np.allclose(x, x_m, rtol=0.0, atol=1e-9 * float(np.max(master.scale, initial=1.0))))


def _unproven_sitings(master, ub: float, y_m, integer: bool, tol: float):
    """(bound, sites) of the sitings other than y_m whose bound under the last master solve is not within `tol`
    of `ub`, lowest bound first (binary siting solved siting by siting only; formulations/master.py)."""
    bounds = master.siting_bounds
    if not integer or bounds is None:
        return []
    chosen = np.round(y_m) > 0.5
    order = np.argsort(bounds, kind="stable")
    return [(float(bounds[i]), master.sitings[i]) for i in order
            if np.isfinite(bounds[i]) and (ub - bounds[i]) / max(abs(ub), 1.0) > tol
            and not np.array_equal(np.asarray(master.sitings[i]) > 0.5, chosen)]


class TrustRegion(Stabiliser):
    def start_phase(self) -> None:
        self.state = {"radius": RADIUS0, "predicted": None, "binding": False}

    def point(self, master, center, lb, ub, x_m, y_m, integer):
        if center is None or not np.isfinite(ub):
            self.state["predicted"] = None
            return x_m, y_m
        radius = self.state["radius"]
        predicted, x = master.box(center, radius, y_m)
        if ub - predicted <= 1e-7 * abs(ub):      # nothing to gain in the box: only the master's point raises LB
            self.state["predicted"] = None
            return x_m, y_m
        scale = master.scale
        self.state["predicted"] = predicted
        self.state["binding"] = bool(np.any(np.abs(x - center) >= radius * scale * (1 - 1e-6)))
        return x, y_m

    def priced(self, total, lb, ub_before, ub_after, x, y, integer):
        predicted = self.state.get("predicted")
        if predicted is None or not np.isfinite(ub_before):
            return
        expected = ub_before - predicted
        realised = ub_before - total
        if expected > 0 and realised >= 0.5 * expected and self.state["binding"]:
            self.state["radius"] = min(1.0, 2 * self.state["radius"])
        elif realised <= 0:
            self.state["radius"] = max(RADIUS_MIN, 0.5 * self.state["radius"])

    def summary(self) -> str:
        return f"Δ {self.state.get('radius', RADIUS0):.3f}"


class InOut(Stabiliser):
    def start_phase(self) -> None:
        self.state = {"alpha": self.alpha0, "stall": 0, "phase_lb": -np.inf, "core_x": None, "core_y": None,
                      "site_cores": {}, "key": None}

    def point(self, master, center, lb, ub, x_m, y_m, integer):
        s = self.state
        binary = integer and master.fs.siting == "binary"
        if binary:
            key = _siting_key(y_m)
            s["key"] = key
            known = key in s["site_cores"]
            mix = s["alpha"] if known else 1.0
            core_x, core_y = (np.asarray(s["site_cores"][key][1]), y_m) if known else (x_m, y_m)
        else:
            if s["core_x"] is None:
                s["core_x"], s["core_y"] = list(x_m), list(y_m)
            mix, core_x, core_y = s["alpha"], np.asarray(s["core_x"]), np.asarray(s["core_y"])
        x = mix * x_m + (1 - mix) * core_x
        y = mix * y_m + (1 - mix) * core_y
        if s["alpha"] < 1.0:
            s["stall"] = s["stall"] + 1 if lb <= s["phase_lb"] + 1e-9 * abs(lb) else 0
            if s["stall"] >= STALL_ITERATIONS:
                s["alpha"] = 1.0
        s["phase_lb"] = max(s["phase_lb"], lb)
        return x, y

    def priced(self, total, lb, ub_before, ub_after, x, y, integer):
        s = self.state
        if s["key"] is not None and integer:
            if total < s["site_cores"].get(s["key"], [np.inf])[0]:
                s["site_cores"][s["key"]] = [total, list(x)]
        elif s["alpha"] < 1.0 and s["core_x"] is not None:
            s["core_x"] = list(0.5 * (np.asarray(s["core_x"]) + x))
            s["core_y"] = list(0.5 * (np.asarray(s["core_y"]) + y))

    def summary(self) -> str:
        return f"α {self.state.get('alpha', self.alpha0):.2f}"
