"""LinDistFlow days as LPs in HiGHS with a hot-started dual simplex, against Clarabel (issue 10, "cheap
iterations"): a measurement, not a solver path of stochplan.

    python benchmarks/lp_days.py [CASE.toml] [--plans 16]

For a case whose day model is an LP once the first stage is fixed (default scenarios/ieee33_lindistflow.toml:
LinDistFlow, efficiency storage, unrated lines, no quadratic term), each day's model is built by stochplan
(formulations/operation.py) with x as a Parameter and an exact copy z = x (no proximal term), and cvxpy's
conic data (A, b(x) = b₀ + B x, c) go to one HiGHS model per day. Plans follow a Benders-like path (zero,
five random plans, then ten converging on one); between plans only the copy rows' bounds change, so HiGHS
restarts its dual simplex from the last basis. Printed: milliseconds a day for HiGHS and for Clarabel
(stochplan's own exact solve at the same plan), the largest relative difference of the day values, and the
cut slope HiGHS gives at x = 0 (a vertex of the subdifferential there, which the proximal copy of
formulations/operation.constraint_copy exists to avoid).
"""
from __future__ import annotations

import argparse
import time

import cvxpy as cp
import highspy
import numpy as np

from stochplan.config import default_case_path, load_case
from stochplan.formulations.operation import OBJ_SCALE, build_operation, solve_day
from stochplan.instance import build_instance


def plan_path(fs, count: int, rng) -> list[np.ndarray]:
    """Zero, random plans, then plans converging on one; storage energy at twice its power (a 2 h unit)."""
    target = rng.uniform(0, 1, fs.n_x) * fs.x_max
    plans = [np.zeros(fs.n_x)] + [rng.uniform(0, 1, fs.n_x) * fs.x_max for _ in range(5)]
    plans += [np.clip(target + rng.normal(0, 0.3 / j, fs.n_x) * fs.x_max, 0, fs.x_max) for j in range(1, count - 5)]
    k = fs.n_storage
    for x in plans:
        x[:k] = np.clip(2 * x[k:2 * k], 0, fs.x_max[:k])
    return plans


class HighsDay:
    """One day's LP in HiGHS: min cᵀv s.t. A_eq v = b_eq(x), A_in v ≤ b_in(x), with b(x) = b₀ + B x."""

    def __init__(self, model, x_param: cp.Parameter, n_x: int):
        self.model, self.x = model, x_param
        data = self._data(np.zeros(n_x))
        dims = data["dims"]
        if dims.soc or (data.get("P") is not None and data["P"].nnz):
            raise SystemExit("this case's day is not an LP (cones or a quadratic term)")
        self.b0, self.offset, self.n_eq = data["b"], data.get("offset", 0.0), dims.zero
        self.B = np.column_stack([self._data(e)["b"] - self.b0 for e in np.eye(n_x)])
        self.rows = np.flatnonzero(np.abs(self.B).sum(axis=1)).astype(np.int32)
        a = data["A"].tocsc()
        self.highs = highspy.Highs()
        self.highs.silent()
        self.highs.setOptionValue("threads", 1)
        inf = self.highs.inf
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = a.shape[1], a.shape[0]
        lp.col_cost_ = data["c"]
        lp.col_lower_, lp.col_upper_ = np.full(a.shape[1], -inf), np.full(a.shape[1], inf)
        lp.row_lower_ = np.concatenate([self.b0[:self.n_eq], np.full(a.shape[0] - self.n_eq, -inf)])
        lp.row_upper_ = self.b0
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = a.indptr, a.indices, a.data
        self.highs.passModel(lp)

    def _data(self, x):
        self.x.value = x
        data, _, _ = self.model.problem.get_problem_data(cp.CLARABEL)
        return data

    def solve(self, x) -> tuple[float, np.ndarray, float]:
        """→ (day value [EUR], cut slope [EUR per unit x], seconds) at plan x."""
        b = self.b0 + self.B @ x
        start = time.perf_counter()
        lower = np.where(self.rows < self.n_eq, b[self.rows], -self.highs.inf)
        self.highs.changeRowsBounds(len(self.rows), self.rows, lower, b[self.rows])
        self.highs.run()
        seconds = time.perf_counter() - start
        if self.highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            raise SystemExit(f"HiGHS: {self.highs.getModelStatus()}")
        value = (self.highs.getInfo().objective_function_value + self.offset) / OBJ_SCALE
        slope = self.B.T @ np.array(self.highs.getSolution().row_dual) / OBJ_SCALE
        return value, slope, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case", nargs="?", default=str(default_case_path().parent / "ieee33_lindistflow.toml"))
    parser.add_argument("--plans", type=int, default=16)
    args = parser.parse_args()
    inst = build_instance(load_case(args.case))
    fs = inst.first
    plans = plan_path(fs, args.plans, np.random.default_rng(0))
    highs_s, clarabel_s, worst, solves = 0.0, 0.0, 0.0, 0
    for day in inst.days:
        x_param = cp.Parameter(fs.n_x, value=np.zeros(fs.n_x))
        model = build_operation(inst, day, x_src=x_param)
        lp = HighsDay(model, x_param, fs.n_x)
        for j, x in enumerate(plans):
            value, _, seconds = lp.solve(x)
            x_param.value = x
            start = time.perf_counter()
            exact = solve_day(model)
            if j:                                  # the first HiGHS solve is cold
                highs_s, clarabel_s, solves = highs_s + seconds, clarabel_s + time.perf_counter() - start, solves + 1
            worst = max(worst, abs(value - exact.cost_eur) / max(abs(exact.cost_eur), 1.0))
        _, slope, _ = lp.solve(np.zeros(fs.n_x))
    print(f"{args.case}: {len(inst.days)} days × {len(plans)} plans; HiGHS (hot-started dual simplex) "
          f"{1e3 * highs_s / solves:.1f} ms a day, Clarabel {1e3 * clarabel_s / solves:.1f} ms; largest relative "
          f"difference of the day values {worst:.1e}")
    print(f"last day, HiGHS cut slope at x = 0 after the path [EUR/day per MWh or MW]: {np.round(slope, 1)}")
    proximal = solve_day(build_operation(inst, inst.days[-1]), np.zeros(fs.n_x), cut=True).gradient
    print(f"the same from stochplan's proximal copy (Clarabel): {np.round(proximal, 1)}")


if __name__ == "__main__":
    main()
