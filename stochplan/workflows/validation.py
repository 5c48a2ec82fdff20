"""AC check of a plan's dispatch: every step of every planned day re-run as a full AC power flow.

The feeder is rebuilt in pandapower with each step's net loads (load − shed), EV station charging,
storage grid-side power (p, q) as loads and used PV as static generators, the substation voltage set to
the model's. Each day's first step is solved with pandapower's `runpp`, then the whole day as one batch in
lightsim2grid's C++ (Newton–Raphson, each step started from the one before), kept only where it reproduces
pandapower's first step; otherwise every step runs in `runpp`. Per step: max |V_ac − V_socp| over buses,
max |loading_ac − loading_socp| over branches (share of rating), AC and model losses, AC limit violations.
A step whose power flow does not converge is reported as such, never dropped.
"""
from __future__ import annotations

import logging
import warnings
from copy import deepcopy
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import load_case
from ..errors import InputError
from ..formulations.operation import DayModels, solve_day
from ..instance import Instance, build_instance
from ..network import load_net
from ..result import DaySolution
from .evaluation import plan_vector

log = logging.getLogger(__name__)

V_TOL = 1e-4       # pu; a voltage this close to a limit is not a violation
LOADING_TOL = 1e-3


class ACFeeder:
    """The case's feeder in pandapower, loaded once, with one load per bus and one static generator per PV
    unit whose powers are set step by step (pandapower's own element indices come from `Ref.branch_kind` and
    `Ref.branch_element`, its lookup of our branches)."""

    def __init__(self, inst: Instance):
        logging.getLogger("pandapower").setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pandapower as pp
        self.pp, self.ref = pp, inst.ref
        ref = inst.ref
        net = self.net = load_net(inst.case.network.source)
        net.load.drop(net.load.index, inplace=True)
        net.sgen.drop(net.sgen.index, inplace=True)
        net.ext_grid["vm_pu"] = ref.v_sub_pu
        self.loads = pp.create_loads(net, ref.bus_ids, p_mw=0.0, q_mvar=0.0)
        self.sgens = pp.create_sgens(net, ref.bus_ids[ref.pv_bus], p_mw=0.0, q_mvar=0.0) if len(ref.pv_bus) else []
        self.is_line = np.array([kind == "line" for kind in ref.branch_kind], dtype=bool)
        self.i_base_ka = ref.base_mva / (np.sqrt(3) * ref.vn_kv[ref.parent[1:]])   # per-unit current at the sending end
        self.n_gen = len(net.ext_grid)           # lightsim2grid's generators: the slack(s) only (_lightsim_ready)
        self.diverged = False  # the last pandapower step did not converge
        self.series = None     # lightsim2grid's time series of this network, made on first use (False: not possible)

    def steps(self, p_mw: np.ndarray, q_mvar: np.ndarray, pv_mw: np.ndarray | None = None) -> list:
        """AC power flow of each step: per-bus net consumption `p_mw`, `q_mvar` (N × T) and PV injections
        (n_pv × T), substation at the model's voltage. → per step None (not converged) or
        (v_ac (N,) [pu], loading_ac (L,) [share of rating], losses_ac [MW]).

        Step 0 runs in pandapower (`runpp`); the whole day then runs as one batch in lightsim2grid's C++
        (`TimeSeriesCPP` on the same network, each step started from the one before: ~0.2 instead of ~4 ms a
        step, most of `runpp` being its Python around the Newton–Raphson). The batch's step 0 must agree
        with pandapower's to AGREE, and every step must converge; otherwise the day runs step by step in
        pandapower (an element lightsim2grid models differently, a step that does not converge)."""
        pv = pv_mw if pv_mw is not None and len(self.sgens) else np.zeros((len(self.sgens), p_mw.shape[1]))
        first = self._runpp(p_mw[:, 0], q_mvar[:, 0], pv[:, 0])
        batch = self._batch(p_mw, q_mvar, pv) if first is not None else None
        if batch is not None and _agree(first, batch[0]):
            return batch
        log.debug("AC check: the lightsim2grid batch %s; pandapower step by step",
                  "did not converge" if batch is None else "disagrees with pandapower at step 0")
        return [first] + [self._runpp(p_mw[:, t], q_mvar[:, t], pv[:, t]) for t in range(1, p_mw.shape[1])]

    def _runpp(self, p_mw: np.ndarray, q_mvar: np.ndarray, pv_mw: np.ndarray):
        """One step in pandapower → None or (v_ac, loading_ac, losses_ac)."""
        pp, net, ref = self.pp, self.net, self.ref
        element = ref.branch_element
        # whole columns: the tables hold only our elements, in creation order (.loc costs ~1 ms a step)
        net.load["p_mw"] = p_mw
        net.load["q_mvar"] = q_mvar
        if len(self.sgens):
            net.sgen["p_mw"] = pv_mw
        try:
            # init "auto" (DC angles first): a flat start does not converge through SimBench's YNd5 transformer
            # (150° phase shift); taps and shifts do not change the magnitudes the SOCP is compared on
            # recycle: only loads and PV injections change between steps, so pandapower reuses its internal
            # case and admittance matrix (8.8 instead of 24.5 ms a step on case33bw); lightsim2grid runs its
            # Newton–Raphson in C++ on that same matrix (3.7 instead of 8.8 ms). Not after a step that did not
            # converge: recycled, its state made every following step fail too
            pp.runpp(net, algorithm="nr", init="auto", max_iteration=30, numba=False, lightsim2grid="auto",
                     recycle=None if self.diverged else {"bus_pq": True, "trafo": False, "gen": False})
            self.diverged = False
        except pp.powerflow.LoadflowNotConverged:
            self.diverged = True
            return None
        v_ac = net.res_bus.vm_pu.loc[ref.bus_ids].to_numpy()
        i_ac = np.zeros(ref.n_line)
        i_ac[self.is_line] = net.res_line.i_from_ka.loc[element[self.is_line]].to_numpy()
        i_ac[~self.is_line] = net.res_trafo.i_hv_ka.loc[element[~self.is_line]].to_numpy()
        losses = net.res_line.pl_mw.sum() + (net.res_trafo.pl_mw.sum() if len(net.trafo) else 0.0)
        return v_ac, i_ac / self.i_base_ka / ref.i_max_pu, float(losses)

    def _make_series(self):
        """lightsim2grid's time series of this network, or False where it cannot read it."""
        from lightsim2grid.network import init_from_pandapower
        from lightsim2grid.timeSerie import TimeSeriesCPP

        net, ref = self.net, self.ref
        ready = _lightsim_ready(net)
        if ready is None:
            return False
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                series = TimeSeriesCPP(init_from_pandapower(ready[0]))
        except Exception as exc:     # any element its converter refuses: pandapower step by step, as before
            log.debug("AC check: lightsim2grid cannot read the network (%s)", exc)
            return False
        self.start_at = ready[1]
        self.bus_at = net.bus.index.get_indexer(ref.bus_ids)
        # branch columns of the batch: the lines, then the transformers, in pandapower's table order
        self.branch_at = np.where(self.is_line, net.line.index.get_indexer(ref.branch_element),
                                  len(net.line) + net.trafo.index.get_indexer(ref.branch_element))
        return series

    def _batch(self, p_mw: np.ndarray, q_mvar: np.ndarray, pv_mw: np.ndarray) -> list | None:
        """Every step in one lightsim2grid time series, started from pandapower's last solution → the
        per-step results, or None if a step did not converge (the series stops at the first that does not)."""
        net, ref = self.net, self.ref
        if self.series is None:
            self.series = self._make_series()
        if self.series is False:
            return None
        steps = p_mw.shape[1]
        v_start = (net.res_bus.vm_pu * np.exp(1j * np.deg2rad(net.res_bus.va_degree))).fillna(1.0)
        gen_p = np.zeros((steps, self.n_gen))           # the slack's set-point: unused
        self.series.compute_Vs(gen_p, np.ascontiguousarray(pv_mw.T), np.ascontiguousarray(p_mw.T),
                               np.ascontiguousarray(q_mvar.T), v_start.to_numpy(dtype=complex)[self.start_at], 30,
                               1e-8)
        if not all(self.series.converged_mask()):
            return None
        v_ac = np.abs(self.series.get_voltages())[:, self.bus_at]
        i_ac = self.series.compute_flows()[:, self.branch_at]
        losses = self.series.compute_branch_results()[:, :, [0, 2]].sum(axis=(1, 2))
        loading = i_ac / self.i_base_ka / ref.i_max_pu
        return [(v_ac[t], loading[t], float(losses[t])) for t in range(steps)]


def _lightsim_ready(net):
    """(a copy of `net` that lightsim2grid reads as pandapower computes it, the position in `net.bus` of the
    bus each of its buses starts from), or None where we do not know how
    (it ignores switches and refuses parallel transformers): a line end behind an open switch goes to a bus of
    its own (pandapower's auxiliary bus: the line still charges from its other end), and n parallel
    transformers become one of n times the rating and iron losses (the same impedances in per cent). Closed
    bus-bus switches are already fused by `load_net` (an open one separates its buses for both). Open
    transformer switches and voltage-controlled generators (whose set-points the batch would have to carry) are
    not handled."""
    sw = net.switch
    if ((sw.et == "t") & ~sw.closed).any() or len(net.gen):
        return None
    copy = deepcopy(net)
    opened: set[int] = set()
    origin = {int(b): int(b) for b in net.bus.index}      # each bus of the copy → the bus it starts from
    for _, switch in sw[(sw.et == "l") & ~sw.closed].iterrows():
        line = int(switch.element)
        if line in opened:                              # both ends open: the line carries nothing
            copy.line.at[line, "in_service"] = False
            continue
        opened.add(line)
        end = "from_bus" if copy.line.at[line, "from_bus"] == switch.bus else "to_bus"
        aux = copy.bus.index.max() + 1
        copy.bus.loc[aux] = copy.bus.loc[switch.bus]
        copy.line.at[line, end] = aux
        origin[aux] = switch.bus
    copy.switch = copy.switch.iloc[0:0]
    # our static generators are plain PQ injections (limits left empty, which lightsim2grid cannot read)
    copy.sgen = copy.sgen.drop(columns=["min_p_mw", "max_p_mw", "min_q_mvar", "max_q_mvar"], errors="ignore")
    n = copy.trafo.parallel.to_numpy()
    copy.trafo["sn_mva"] *= n
    copy.trafo["pfe_kw"] *= n
    copy.trafo["parallel"] = 1
    return copy, net.bus.index.get_indexer([origin[b] for b in copy.bus.index])


AGREE = 1e-6     # pu, share of rating and relative losses: the batch reproduces pandapower's step


def _agree(a: tuple, b: tuple) -> bool:
    return bool(np.abs(a[0] - b[0]).max() <= AGREE and np.nan_to_num(np.abs(a[1] - b[1])).max(initial=0) <= AGREE
                and abs(a[2] - b[2]) <= AGREE * max(abs(a[2]), 1.0))


def violations(ref, v_ac: np.ndarray, loading_ac: np.ndarray) -> int:
    """Buses outside [v_min, v_max] (the substation excepted) plus branches above their rating."""
    return int(((v_ac[1:] < ref.v_min_pu - V_TOL) | (v_ac[1:] > ref.v_max_pu + V_TOL)).sum()
               + (loading_ac > 1 + LOADING_TOL).sum())


COLUMNS = ["day", "step", "converged", "max_dv_pu", "max_dloading", "losses_ac_mw", "losses_model_mw",
           "v_min_ac_pu", "v_max_ac_pu", "max_loading_ac", "violations"]


def validate_plan(inst: Instance, solutions: list[DaySolution]) -> pd.DataFrame:
    """One row per day × step of `solutions` (one per day of `inst`); see the module docstring."""
    check = DayCheck(inst)
    return pd.DataFrame([row for d, sol in enumerate(solutions) for row in check(d, sol)], columns=COLUMNS)


class DayCheck:
    """The AC check of one planned day, run where the day's solution lives (Benders hands it to its day pool,
    so the ranks check their own days): `check(d, solution)` → that day's rows (list of dicts, COLUMNS)."""

    def __init__(self, inst: Instance):
        self.inst = inst
        self.feeder: ACFeeder | None = None       # loaded on first use: only ranks that own days need it

    def __call__(self, d: int, sol: DaySolution) -> list[dict]:
        if self.feeder is None:
            self.feeder = ACFeeder(self.inst)
        return _check_day(self.inst, self.feeder, self.inst.days[d], sol)


def _check_day(inst: Instance, feeder: ACFeeder, day, sol: DaySolution) -> list[dict]:
    """The day's net consumption per bus from the dispatch (load − shed, storage, EV stations), each step's
    AC power flow against the model: one row per step."""
    ref = inst.ref
    st_at, ev_at = ref.storage_bus, ref.station_bus
    rows = []
    d = sol.dispatch
    net_p = day.load_p_mw - d["shed_mw"]
    keep = np.divide(net_p, day.load_p_mw, out=np.ones_like(net_p), where=day.load_p_mw > 0)
    net_q = day.load_q_mvar * keep if inst.options.load_shed == "power_factor" else day.load_q_mvar.copy()
    np.add.at(net_p, st_at, d["storage_p_mw"])
    np.add.at(net_q, st_at, d["storage_q_mvar"])
    np.add.at(net_p, ev_at, d["ev_p_mw"])
    np.add.at(net_q, ev_at, d["ev_q_mvar"])
    for t, result in enumerate(feeder.steps(net_p, net_q, d["pv_mw"])):
        row = {"day": day.day, "step": t, "converged": result is not None}
        if result is not None:
            v_ac, loading_ac, losses_ac = result
            losses_model = d["import_mw"][t] - d["export_mw"][t] - net_p[:, t].sum() + d["pv_mw"][:, t].sum()
            row.update(max_dv_pu=float(np.abs(v_ac - d["v_pu"][:, t]).max()),
                       max_dloading=float(np.abs(loading_ac - d["loading"][:, t]).max()) if "loading" in d
                       else np.nan, losses_ac_mw=losses_ac, losses_model_mw=float(losses_model),
                       v_min_ac_pu=float(v_ac.min()), v_max_ac_pu=float(v_ac.max()),
                       max_loading_ac=float(loading_ac.max()), violations=violations(ref, v_ac, loading_ac))
        rows.append(row)
    return rows


def resolve_saved_plan(doc: dict, case_path: str | None, where: Path, progress: bool = True):
    """`stochplan validate DIR`: the planned days re-solved at DIR/results.json's plan → (instance, solutions).

    `doc` is that results.json as `evaluation.read_plan` checked it; `where` its path, for messages.
    The days are re-solved rather than read back from the dispatch CSVs: the AC check needs every device's
    reactive power and the per-bus shedding, which the CSVs (written for people) do not carry."""
    from tqdm import tqdm

    case_path = case_path or doc.get("case_file")
    if not case_path:
        raise InputError("--case", f"'{where}' does not name its case file; pass --case CASE.toml")
    case = load_case(case_path)
    planned_days = [s["day"] for s in doc["scenarios"]]
    inst = build_instance(case, k=len(planned_days) if case.scenarios.source == "year" else None)
    if [d.day for d in inst.days] != planned_days:
        raise InputError("--case", f"'{case.path}' gives days {[d.day for d in inst.days]}, the plan was made on "
                                   f"{planned_days}; pass the case file the plan was made with")
    x, _, _ = plan_vector(inst, doc, "DIR")
    models = DayModels(inst, len(inst.days), keep=False)        # each day is solved once
    solutions = [solve_day(models(d), x) for d in tqdm(range(len(inst.days)), desc="re-solving planned days",
                                                       unit="day", disable=not progress)]
    return inst, solutions
