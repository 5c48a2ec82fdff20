"""A stochplan case as mpi-sppy scenarios: one representative day is one scenario, following the conventions
of mpi-sppy's examples (farmer): `scenario_creator`, `scenario_names_creator`, `kw_creator`, `inparser_adder`,
`scenario_denouement`.

Each scenario is the day's operation as a Pyomo model, built from the same `Ref`, day arrays, first stage and
options as the cvxpy day model (formulations/operation.py), never from the raw tables again:

    min  cᵀx + c_yᵀy + 365 · cost_s(x)          [EUR/year; cost_s as objective_terms: energy, carbon, penalty]
    LinDistFlow:  P_l − Σ_children P = p_j + g_j v_j,  Q_l − Σ_children Q = q_j − b_j v_j,  v_j = v_i/τ² − 2(r P + x Q),
                  v_0 = v_sub²,  v_min² ≤ v ≤ v_max²  (no line or substation limits: unrated feeders only)
    storage (efficiency model, active power only):  e_{t+1} = e_t + Δt (η_c p_ch − p_dis/η_d),  e_T = e_0,
                  soc_min E ≤ e ≤ soc_max E,  p_ch, p_dis ≤ P,  |p_ch − p_dis| ≤ P
    PV ≤ available; shedding ≤ load (reactive in proportion or not, as `model.load_shed`);
    EV stations (envelope region, ev/regions.py): P_ch ≤ Σ p̄ f,  Σ L − short ≤ G(t) ≤ Σ U,  P_ch + P_dis + P_unc ≤ C
    first stage: E ≤ Ē y, P ≤ P̄ y, d_min P ≤ E ≤ d_max P, Σ y ≤ max sites, budget    (the master's rows)

with x = [E (MWh), P (MW), C (MW)] and y the site binaries as the root node's nonanticipative variables, and the
day's weight as `_mpisppy_probability`. What an LP cannot state is refused with one line saying why
(`check_supported`): the SOCP formulation, the virtual-resistance storage, four-quadrant inverters or chargers,
rated lines or substation (their limits are circles), the quadratic balance index, other EV regions.

    from stochplan.interop import mpisppy as sp
    names = sp.scenario_names_creator(len(inst.days))
    ef = sputils.create_EF(names, sp.scenario_creator, scenario_creator_kwargs={"case": "scenarios/ieee33_lindistflow.toml"})
"""
from __future__ import annotations

import math
import re
from functools import lru_cache

import numpy as np
import pyomo.environ as pyo

from ..errors import InputError
from ..result import DAYS_PER_YEAR

SCENARIO = "day"          # scenario names: day0, day1, … in the order of the instance's days
# HiGHS fixes its thread count at the first solve of a process and fails a later solve that asks for another;
# the master asks for one thread (formulations/master.py), so every HiGHS call here does too (pass these to
# mpi-sppy as root_solver_options, sp_solver_options, iter0/iterk_solver_options).
HIGHS_OPTIONS = {"threads": 1}


def solve_highs(model, **options):
    """Solve a Pyomo model with HiGHS (Pyomo's contrib interface) on one thread; → its results."""
    from pyomo.contrib.solver.common.factory import SolverFactory

    return SolverFactory("highs").solve(model, tee=False, solver_options={**HIGHS_OPTIONS, **options})


# --------------------------------------------------------------------------- mpi-sppy's conventions


def scenario_names_creator(num_scens: int, start: int | None = None) -> list[str]:
    start = start or 0
    return [f"{SCENARIO}{i}" for i in range(start, start + num_scens)]


def kw_creator(cfg) -> dict:
    """scenario_creator's keyword arguments from an mpi-sppy Config (or a dict)."""
    get = cfg.get if hasattr(cfg, "get") else lambda key, default=None: getattr(cfg, key, default)
    return {"case": get("case", None), "k": get("k", None)}


def inparser_adder(cfg) -> None:
    """The options a stochplan case adds to mpi-sppy's Config (its `--num-scens` is the number of days)."""
    cfg.num_scens_optional()
    cfg.add_to_config("case", description="stochplan case file (TOML)", domain=str, default=None)
    cfg.add_to_config("k", description="representative days of a year case (scenarios.k)", domain=int,
                      default=None)


def scenario_creator(scenario_name: str, case: str | None = None, k: int | None = None, instance=None):
    """The Pyomo model of one day, with its root node and probability attached. `instance` (a built
    `instance.Instance`) takes the place of `case`/`k` when the caller has one."""
    from mpisppy.utils import sputils

    inst = instance if instance is not None else _instance(case, k)
    match = re.fullmatch(rf"{SCENARIO}(\d+)", scenario_name)
    if match is None or int(match.group(1)) >= len(inst.days):
        raise InputError("scenario_name", f"'{scenario_name}' is not one of {SCENARIO}0..{SCENARIO}"
                                          f"{len(inst.days) - 1}")
    day = inst.days[int(match.group(1))]
    model = day_model(inst, day)
    sputils.attach_root_node(model, model.investment, [model.y, model.x])
    model._mpisppy_probability = day.weight
    return model


def scenario_denouement(rank, scenario_name, scenario) -> None:
    """Nothing to report per scenario (the caller reads the first stage from the root node)."""


@lru_cache(maxsize=4)
def _instance(case: str | None, k: int | None):
    from ..config import default_case_path, load_case
    from ..instance import build_instance

    inst = build_instance(load_case(case or default_case_path()), k=k)
    check_supported(inst)
    return inst


# --------------------------------------------------------------------------- the model


def check_supported(inst) -> None:
    """One InputError naming the first option an LP cannot state."""
    opt, ref = inst.options, inst.ref
    refusals = [
        (opt.formulation != "lindistflow", "model.formulation", "is 'socp': the SOC relaxation needs a conic "
         "solver, which mpi-sppy's HiGHS models do not have; use 'lindistflow'"),
        (len(ref.storage_bus) and opt.storage_model != "efficiency", "model.storage_model",
         "'virtual_resistance' is a cone; use 'efficiency'"),
        (len(ref.storage_bus) and opt.storage.reactive_power, "storage.reactive_power",
         "a four-quadrant inverter is a cone; set it to false"),
        (len(ref.station_bus) and opt.ev.reactive_support, "ev.reactive_support",
         "reactive support is a cone; set it to false"),
        (len(ref.station_bus) and opt.ev.aggregation != "envelope", "ev.aggregation",
         "only the envelope region is written for mpi-sppy"),
        (np.isfinite(ref.i_max_pu).any(), "network.unrated_branches",
         "rated lines have circular limits in LinDistFlow; state the feeder unrated ('unlimited')"),
        (math.isfinite(ref.s_sub_max_pu), "network.substation_max_mva", "the substation limit is a circle"),
        (opt.balance_weight_eur > 0, "model.balance_weight_eur", "the balance index is quadratic; set it to 0"),
    ]
    for refused, field, why in refusals:
        if refused:
            raise InputError(field, f"{why} (stochplan.interop.mpisppy writes LPs)")


def first_stage_variables(m, fs) -> None:
    """x = [E, P, C] within [0, x̄] and the site binaries y (continuous in [0, 1] unless binary siting; fixed
    with fixed siting) on the Pyomo model `m`."""
    m.X = pyo.RangeSet(0, fs.n_x - 1)
    m.K = pyo.RangeSet(0, fs.n_storage - 1)
    m.x = pyo.Var(m.X, bounds=lambda _, i: (0.0, float(fs.x_max[i])))
    m.y = pyo.Var(m.K, domain=pyo.Binary if fs.siting == "binary" else pyo.UnitInterval)
    if fs.siting == "fixed":
        for i in m.K:
            m.y[i].fix(float(fs.fixed_y[i]))


def first_stage_rows(m, fs) -> None:
    """The first stage's rows A [x; y] ≤ b (investment.FirstStage.rows, the master's own) and its annualised
    cost `m.investment` [EUR/year]."""
    a, b = fs.rows()
    columns = [m.x[i] for i in m.X] + [m.y[i] for i in m.K]

    def row(m, r):
        entries = slice(a.indptr[r], a.indptr[r + 1])
        if a.indptr[r] == a.indptr[r + 1]:
            return pyo.Constraint.Skip
        return sum(float(v) * columns[j] for j, v in zip(a.indices[entries], a.data[entries])) <= float(b[r])

    m.first_stage = pyo.Constraint(pyo.RangeSet(0, len(b) - 1), rule=row)
    m.investment = pyo.Expression(expr=sum(fs.cost_x[i] * m.x[i] for i in m.X)
                                  + sum(fs.cost_y[i] * m.y[i] for i in m.K))


def day_model(inst, day) -> pyo.ConcreteModel:
    """One day with the first stage as variables (see the module docstring) [per unit inside, like the cvxpy
    model; objective in EUR/year]."""
    check_supported(inst)
    m = pyo.ConcreteModel(f"day{day.day}")
    first_stage_variables(m, inst.first)
    first_stage_rows(m, inst.first)
    _grid(m, inst.ref, day, inst.options)
    _storage(m, inst, day)
    _ev_stations(m, inst, day)
    _balance(m, inst.ref, day, inst.options)
    m.day_cost = pyo.Expression(expr=_day_cost(m, inst, day))          # EUR per day
    m.objective = pyo.Objective(expr=m.investment + DAYS_PER_YEAR * m.day_cost)
    return m


def _capacity_pu(m, inst, i: int):
    """New build plus the case's capacity floor, per unit [pu, pu·h]."""
    fs = inst.first
    return (m.x[i] + inst.options.capacity_floor * float(fs.x_max[i])) / inst.ref.base_mva


def _grid(m, ref, day, opt) -> None:
    """LinDistFlow variables, voltage drop and voltage limits; shedding and PV."""
    base, steps = ref.base_mva, day.steps
    m.N = pyo.RangeSet(0, ref.n_bus - 1)
    m.L = pyo.RangeSet(0, ref.n_line - 1)
    m.T = pyo.RangeSet(0, steps - 1)
    m.U = pyo.RangeSet(0, len(ref.pv_bus) - 1)
    load_p = day.load_p_mw / base
    avail = day.pv_avail_mw / base
    m.v = pyo.Var(m.N, m.T, bounds=(0, None))
    m.P = pyo.Var(m.L, m.T)
    m.Q = pyo.Var(m.L, m.T)
    m.shed = pyo.Var(m.N, m.T, bounds=lambda _, n, t: (0.0, float(load_p[n, t])))
    m.p_pv = pyo.Var(m.U, m.T, bounds=lambda _, u, t: (0.0, float(avail[u, t])))
    m.p_buy = pyo.Var(m.T, bounds=(0, None))
    m.p_sell = pyo.Var(m.T, bounds=(0, ref.export_max_pu if math.isfinite(ref.export_max_pu) else None))
    parent = ref.parent
    weight = ref.sending_weight                              # v_i / τ², as Ref.line_parent
    m.voltage_drop = pyo.Constraint(m.L, m.T, rule=lambda m, l, t: m.v[l + 1, t] == float(weight[l])
                                    * m.v[parent[l + 1], t] - 2 * (float(ref.r_pu[l]) * m.P[l, t]
                                                                   + float(ref.x_pu[l]) * m.Q[l, t]))
    m.v_substation = pyo.Constraint(m.T, rule=lambda m, t: m.v[0, t] == ref.v_sub_pu ** 2)
    for n in range(1, ref.n_bus):
        for t in range(steps):
            m.v[n, t].setlb(ref.v_min_pu ** 2)
            m.v[n, t].setub(ref.v_max_pu ** 2)
    roots = np.flatnonzero(ref.parent[1:] == 0)
    g, _ = ref.shunt_admittance
    m.substation = pyo.Constraint(m.T, rule=lambda m, t: m.p_buy[t] - m.p_sell[t] == sum(m.P[l, t] for l in roots)
                                  + float(g[0]) * m.v[0, t])


def _storage(m, inst, day) -> None:
    """Efficiency model, active power only (constraint_storage_energy, constraint_storage_efficiency)."""
    ref, st, steps, dt = inst.ref, inst.options.storage, day.steps, day.dt_h
    k = len(ref.storage_bus)
    m.TE = pyo.RangeSet(0, steps)
    m.e = pyo.Var(m.K, m.TE, bounds=(0, None))
    m.p_ch = pyo.Var(m.K, m.T, bounds=(0, None))
    m.p_dis = pyo.Var(m.K, m.T, bounds=(0, None))
    e_cap = lambda i: _capacity_pu(m, inst, i)                     # noqa: E731
    p_cap = lambda i: _capacity_pu(m, inst, k + i)                 # noqa: E731
    m.storage_energy = pyo.Constraint(m.K, m.T, rule=lambda m, i, t: m.e[i, t + 1] == m.e[i, t] + dt * (
        st.efficiency_charge * m.p_ch[i, t] - m.p_dis[i, t] / st.efficiency_discharge))
    m.storage_cycle = pyo.Constraint(m.K, rule=lambda m, i: m.e[i, steps] == m.e[i, 0])
    m.soc_low = pyo.Constraint(m.K, m.TE, rule=lambda m, i, t: m.e[i, t] >= st.soc_min * e_cap(i))
    m.soc_high = pyo.Constraint(m.K, m.TE, rule=lambda m, i, t: m.e[i, t] <= st.soc_max * e_cap(i))
    m.charge_rating = pyo.Constraint(m.K, m.T, rule=lambda m, i, t: m.p_ch[i, t] <= p_cap(i))
    m.discharge_rating = pyo.Constraint(m.K, m.T, rule=lambda m, i, t: m.p_dis[i, t] <= p_cap(i))
    m.inverter_up = pyo.Constraint(m.K, m.T, rule=lambda m, i, t: m.p_ch[i, t] - m.p_dis[i, t] <= p_cap(i))
    m.inverter_down = pyo.Constraint(m.K, m.T, rule=lambda m, i, t: m.p_dis[i, t] - m.p_ch[i, t] <= p_cap(i))


def _ev_stations(m, inst, day) -> None:
    """Envelope region per station (ev/regions.py) and charger capacity, no reactive power [pu; MW inside the
    region's rows, as the cvxpy model writes them]."""
    ref, ev, base, dt = inst.ref, inst.options.ev, inst.ref.base_mva, day.dt_h
    n_st, k = len(ref.station_bus), len(ref.storage_bus)
    m.S = pyo.RangeSet(0, n_st - 1)
    fixed = day.ev.fixed_p_mw / base if n_st else np.zeros((0, day.steps))
    m.p_ev_ch = pyo.Var(m.S, m.T, bounds=(0, None))
    m.p_ev_dis = pyo.Var(m.S, m.T, bounds=(0, None) if ev.v2g else (0, 0))
    m.p_unc = pyo.Var(m.S, m.T, bounds=lambda _, s, t: (0.0, float(fixed[s, t])))
    m.ev_short = pyo.Var(m.S, bounds=(0, None))
    fleets = day.ev.fleets if n_st else ()
    p_max = [f.p_max_mw.sum(0) for f in fleets]
    e_lo = [f.e_lo[:, 1:].sum(0) for f in fleets]
    e_hi = [f.e_hi[:, 1:].sum(0) for f in fleets]
    eta = ev.efficiency

    def gained(m, s, t):      # battery-side energy gained up to the end of step t [MWh]
        return sum(dt * eta * base * m.p_ev_ch[s, tau] - (dt / eta * base * m.p_ev_dis[s, tau] if ev.v2g else 0)
                   for tau in range(t + 1))

    m.ev_power = pyo.Constraint(m.S, m.T, rule=lambda m, s, t: base * m.p_ev_ch[s, t] <= float(p_max[s][t]))
    if ev.v2g:
        m.ev_discharge = pyo.Constraint(m.S, m.T, rule=lambda m, s, t: base * m.p_ev_dis[s, t] <= float(
            p_max[s][t] if fleets[s].v2g else 0.0))
    m.ev_energy_low = pyo.Constraint(m.S, m.T, rule=lambda m, s, t: gained(m, s, t) >= float(e_lo[s][t])
                                     - base * eta * m.ev_short[s])
    m.ev_energy_high = pyo.Constraint(m.S, m.T, rule=lambda m, s, t: gained(m, s, t) <= float(e_hi[s][t]))
    m.charger = pyo.Constraint(m.S, m.T, rule=lambda m, s, t: m.p_ev_ch[s, t] + m.p_ev_dis[s, t] + m.p_unc[s, t]
                               <= _capacity_pu(m, inst, 2 * k + s))


def _balance(m, ref, day, opt) -> None:
    """P_l − Σ_children P = p_j and the same for Q, with the devices' net consumption at bus j = l + 1 [pu]."""
    base = ref.base_mva
    load_p, load_q = day.load_p_mw / base, day.load_q_mvar / base
    pq = np.divide(load_q, load_p, out=np.zeros_like(load_q), where=load_p > 0)
    children = [np.flatnonzero(ref.parent[1:] == j) for j in range(ref.n_bus)]
    at = {"pv": _at(ref.pv_bus, ref.n_bus), "st": _at(ref.storage_bus, ref.n_bus), "ev": _at(ref.station_bus, ref.n_bus)}

    def net_p(m, j, t):
        return (float(load_p[j, t]) - m.shed[j, t] - sum(m.p_pv[u, t] for u in at["pv"][j])
                + sum(m.p_ch[i, t] - m.p_dis[i, t] for i in at["st"][j])
                + sum(m.p_ev_ch[s, t] - m.p_ev_dis[s, t] + m.p_unc[s, t] for s in at["ev"][j]))

    def net_q(m, j, t):
        return float(load_q[j, t]) - (float(pq[j, t]) * m.shed[j, t] if opt.load_shed == "power_factor" else 0)

    g, b = ref.shunt_admittance
    m.balance_p = pyo.Constraint(m.L, m.T, rule=lambda m, l, t: m.P[l, t] - sum(m.P[c, t] for c in children[l + 1])
                                 == net_p(m, l + 1, t) + float(g[l + 1]) * m.v[l + 1, t])
    m.balance_q = pyo.Constraint(m.L, m.T, rule=lambda m, l, t: m.Q[l, t] - sum(m.Q[c, t] for c in children[l + 1])
                                 == net_q(m, l + 1, t) - float(b[l + 1]) * m.v[l + 1, t])


def _at(buses: np.ndarray, n_bus: int) -> list[list[int]]:
    """For each bus, the devices on it."""
    out = [[] for _ in range(n_bus)]
    for i, b in enumerate(buses):
        out[int(b)].append(i)
    return out


def _day_cost(m, inst, day):
    """energy + carbon + penalty [EUR/day], as formulations/operation.objective_terms."""
    opt, base, dt = inst.options, inst.ref.base_mva, day.dt_h
    scale = dt * base
    energy = scale * sum(float(day.buy_eur_per_mwh[t]) * m.p_buy[t] - float(day.sell_eur_per_mwh[t]) * m.p_sell[t]
                         for t in m.T)
    carbon = scale * opt.carbon_price_eur_per_t * sum(float(day.carbon_t_per_mwh[t]) * m.p_buy[t] for t in m.T)
    penalty = scale * opt.load_shed_cost_eur_per_mwh * sum(m.shed[n, t] for n in m.N for t in m.T)
    if len(inst.ref.station_bus):
        fixed = day.ev.fixed_p_mw / base
        penalty += base * opt.ev_unmet_cost_eur_per_mwh * (
            sum(m.ev_short[s] for s in m.S) + dt * sum(float(fixed[s, t]) - m.p_unc[s, t] for s in m.S for t in m.T))
    return energy + carbon + penalty


def fix_first_stage(model, x: np.ndarray, y: np.ndarray) -> None:
    """Fix a scenario's first stage at a plan (x clipped to its bounds), e.g. to price the plan day by day."""
    for i in model.X:
        model.x[i].fix(float(np.clip(x[i], 0.0, model.x[i].ub)))
    for i in model.K:
        model.y[i].fix(float(y[i]))


def first_stage_values(model) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of a solved scenario or EF root [MWh, MW; 0/1]."""
    x = np.array([pyo.value(model.x[i]) for i in model.X]) if len(model.X) else np.zeros(0)
    y = np.array([pyo.value(model.y[i]) for i in model.K]) if len(model.K) else np.zeros(0)
    return x, y
