"""Second stage: one day's operation of the feeder, as a cvxpy problem built once and re-solved.

Per-unit inside (system base `ref.base_mva`, energies in pu·h), engineering units at the boundary.
Branch l feeds bus j = l + 1 from its parent i. Steps t of Δt hours. Costs in units of 100 kEUR per day
inside the solver (see OBJ_SCALE); reported in EUR.

First-stage values x = [E (MWh), P (MW), C (MW)] enter only through the copy equality, `z == x_src` with
the extensive form's first-stage Variable, or the proximal copy `z == x̂ + r` with x̂ a Parameter (Benders,
evaluation), r penalised by ½ Σ_i w_i r_i² (see `constraint_copy` for why and how much).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, fields, replace

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from ..ev.regions import envelope_region, envelope_sums, station_region
from ..network import Ref
from ..result import DaySolution
from ..scenarios import Day
from ..solvers import KeptSolver, solve_conic
from .options import DayInputs, EVOptions, PlanInputs

# Objective unit inside the solver: 100 kEUR. Clarabel's gap tolerances (1e-8) act in absolute terms on
# objectives below 1, so this unit asks for 0.001 EUR per day; in kEUR, 38 % of the default case's year days
# stalled at a gap of 2e-8 ('AlmostSolved'), in 100 kEUR none did (106 solves of 53 days, equal iterations).
OBJ_SCALE = 1e-5

# Proximal-copy weights [EUR/day per MWh² or MW²] (see constraint_copy). CUT_WEIGHT: at a component on the
# boundary of the domain (x̂_i = 0) when a Benders cut is wanted — measured on the default case at an unbuilt
# site: slopes −102/−44 EUR/day per MWh/MW (the right derivatives by finite differences: a joint step gives
# −232 against 2·(−102) − 44 = −249, so the cut is valid and near tight) and Q_ρ − Q = 1.6e-3 EUR/day; 1e10
# gives slopes 6× too steep (r ≈ 7e-8 sits at the solver's tolerance), 1e12 the plain copy's −2e4…−1e7.
# EXACT_WEIGHT: everywhere else; r ≤ g/w ≈ 1e-8 (Clarabel's own accuracy), so Q(x̂) to ~1e-6 EUR/day, far
# inside its 1e-3. Not 1e12: an exact evaluation pinning unbuilt sites at 0 was then too stiff to solve without
# iterative refinement (default case: 6 of 10 days retried), and on SimBench MV it needed 4–5 retries a day even
# with refinement (3.4 s a day against 0.3 s at 1e11, values within 1e-7 of a refined 1e11 solve; the level
# iterations at K = 6/8/10/12 are 16/25/14/19 against 16/24/14/19 at 1e12).
CUT_WEIGHT = 1e8
EXACT_WEIGHT = 1e11
BOUNDARY = 1e-9     # a component this close to 0 [MWh, MW] is on the boundary of Q's domain


def vec(expr):
    return cp.vec(expr, order="F")


def incidence(n_bus: int, buses: np.ndarray) -> sp.csr_matrix:
    """(N × n) places device columns on their buses."""
    return sp.csr_matrix((np.ones(len(buses)), (buses, np.arange(len(buses)))), shape=(n_bus, len(buses)))


def rotated_cone(x_list, y, z):
    """Σ x² ≤ y·z with y, z ≥ 0, elementwise over equal-shaped matrices: ‖(2x…, y − z)‖ ≤ y + z."""
    rows = [2 * vec(x) for x in x_list] + [vec(y - z)]
    return cp.SOC(vec(y + z), cp.vstack(rows), axis=0)


# --------------------------------------------------------------------------- formulations, chosen once
# Like PowerModels' model types (src/form/bf.jl), one object per formulation supplies the constraint families'
# variants; build_operation picks it once from the options and every family asks it, never the options.


class DistFlowSOCP:
    """Branch flow with the squared current ℓ and the Farivar–Low relaxation P² + Q² ≤ v ℓ (a rotated cone):
    series losses r ℓ, x ℓ in the balance, the (r² + x²) ℓ term in the voltage drop, ℓ ≤ I_max²."""
    name = "socp"

    def current(self, n_line: int, steps: int):
        return cp.Variable((n_line, steps), nonneg=True)

    def series_losses(self, grid, ref):
        return cp.multiply(ref.r_pu[:, None], grid.l), cp.multiply(ref.x_pu[:, None], grid.l)

    def voltage_drop(self, grid, ref):
        drop = 2 * (cp.multiply(ref.r_pu[:, None], grid.P) + cp.multiply(ref.x_pu[:, None], grid.Q))
        return drop - cp.multiply((ref.r_pu ** 2 + ref.x_pu ** 2)[:, None], grid.l)

    def model_current(self, grid, ref):
        return [rotated_cone([grid.P, grid.Q], ref.line_parent @ grid.v, grid.l)]

    def current_limit(self, grid, rated, i_max):
        return [grid.l[rated] <= i_max ** 2]

    def squared_current(self, grid):
        return grid.l

    def relaxation_gap(self, grid, ref) -> float:
        """max over branches and steps of v_i ℓ_ij − P² − Q² at the solution [pu²]."""
        v_par = ref.line_parent @ grid.v.value
        return float(np.max(v_par * grid.l.value - grid.P.value ** 2 - grid.Q.value ** 2, initial=0.0))

    def loading(self, grid, ref):
        """(L, T) current over rating at the solution."""
        return np.sqrt(np.maximum(grid.l.value, 0.0)) / ref.i_max_pu[:, None]


class LinDistFlow:
    """Lossless linearised branch flow: no ℓ and no losses, the drop 2(r P + x Q), P² + Q² ≤ I_max² (at 1 pu).
    Without a current there is no relaxation gap and no current loading to report."""
    name = "lindistflow"

    def current(self, n_line: int, steps: int):
        return None

    def series_losses(self, grid, ref):
        return 0, 0

    def voltage_drop(self, grid, ref):
        return 2 * (cp.multiply(ref.r_pu[:, None], grid.P) + cp.multiply(ref.x_pu[:, None], grid.Q))

    def model_current(self, grid, ref):
        return []

    def current_limit(self, grid, rated, i_max):
        return [cp.SOC(vec(i_max), cp.vstack([vec(grid.P[rated]), vec(grid.Q[rated])]), axis=0)]

    def squared_current(self, grid):
        return cp.square(grid.P) + cp.square(grid.Q)

    def relaxation_gap(self, grid, ref) -> float:
        return 0.0

    def loading(self, grid, ref):
        return None


FORMULATIONS = {form.name: form for form in (DistFlowSOCP(), LinDistFlow())}


@dataclass
class LossBranchVariables:
    p_batt: cp.Variable     # (K, T) battery-side power [pu]
    l_batt: cp.Variable     # (K, T) squared current of the virtual-resistance branch [pu²]


@dataclass
class EfficiencyVariables:
    p_batt: cp.Variable     # (K, T) battery-side power [pu]
    p_ch: cp.Variable       # (K, T) grid-side charging [pu]
    p_dis: cp.Variable      # (K, T) grid-side discharging [pu]


class LossBranch:
    """storage_model "virtual_resistance": losses in a virtual resistance (constraint_storage_loss_branch)."""
    name = "virtual_resistance"

    def variables(self, k: int, steps: int) -> LossBranchVariables:
        return LossBranchVariables(cp.Variable((k, steps)), cp.Variable((k, steps), nonneg=True))

    def constraints(self, var, ref, p_rating, st):
        return constraint_storage_loss_branch(var, var.v[ref.storage_bus], p_rating, st.loss_resistance_pu,
                                              st.reactive_power)


class Efficiency:
    """storage_model "efficiency": charge and discharge efficiencies (constraint_storage_efficiency)."""
    name = "efficiency"

    def variables(self, k: int, steps: int) -> EfficiencyVariables:
        return EfficiencyVariables(cp.Variable((k, steps)), cp.Variable((k, steps), nonneg=True),
                                   cp.Variable((k, steps), nonneg=True))

    def constraints(self, var, ref, p_rating, st):
        return constraint_storage_efficiency(var, p_rating, st.efficiency_charge, st.efficiency_discharge,
                                             st.reactive_power)


STORAGE_MODELS = {model.name: model for model in (LossBranch(), Efficiency())}


# --------------------------------------------------------------------------- variables


@dataclass
class GridVariables:
    form: DistFlowSOCP | LinDistFlow   # the branch-flow physics these variables follow
    v: cp.Variable          # (N, T) squared voltage magnitude [pu²]
    P: cp.Variable          # (L, T) sending-end active flow [pu]
    Q: cp.Variable          # (L, T) sending-end reactive flow [pu]
    l: cp.Variable | None   # (L, T) squared current [pu²]; only `form` reads it (LinDistFlow has none)
    p_buy: cp.Variable      # (T,) import [pu]
    p_sell: cp.Variable     # (T,) export [pu]

    @classmethod
    def create(cls, form, ref: Ref, steps: int) -> GridVariables:
        n, nl = ref.n_bus, ref.n_line
        return cls(form=form, v=cp.Variable((n, steps), nonneg=True), P=cp.Variable((nl, steps)),
                   Q=cp.Variable((nl, steps)), l=form.current(nl, steps),
                   p_buy=cp.Variable(steps, nonneg=True), p_sell=cp.Variable(steps, nonneg=True))


@dataclass
class Variables(GridVariables):
    shed: cp.Variable       # (N, T) active load shed [pu]
    p_pv: cp.Variable       # (n_pv, T) PV used [pu]
    z: cp.Variable          # (n_x,) copy of the first stage [MWh, MW]
    e: cp.Variable          # (K, T+1) storage energy [pu·h]
    p_st: cp.Expression     # (K, T) storage grid-side consumption [pu]
    q_st: cp.Variable       # (K, T) storage reactive consumption [pu]
    p_ev_ch: cp.Variable    # (n_st, T) controllable EV charging, grid side [pu]
    p_ev_dis: cp.Variable   # (n_st, T) controllable EV discharging to the grid (V2G) [pu]
    q_ev: cp.Variable       # (n_st, T) station reactive consumption (reactive support) [pu]
    p_unc: cp.Variable      # (n_st, T) uncontrolled EV charging served [pu]
    ev_short: cp.Variable   # (n_st,) controllable EV energy not delivered, grid side [pu·h]
    storage: LossBranchVariables | EfficiencyVariables | None = None   # the storage model's own


@dataclass
class DayModel:
    day: Day
    ref: Ref
    problem: cp.Problem
    var: Variables
    copy: cp.Constraint
    x_hat: cp.Parameter | None
    cost: dict[str, cp.Expression]      # 100 kEUR per day, by part
    prox: cp.Parameter | None = None    # √(OBJ_SCALE · w / 2) of the proximal copy
    r: cp.Variable | None = None        # the proximal slack z − x̂
    data: dict | None = None    # a shared model's day data (shared_day_data's as Parameters, q/p fixed)
    kept: KeptSolver | None = None  # a Clarabel solver kept between solves (DayModels' kept models)

    def use(self, day: Day, data: dict[str, np.ndarray]) -> None:
        """Make a shared model this day's: its day data Parameters take `data` (`shared_day_data(day)`)."""
        if day is self.day:
            return
        if self.data is None:
            raise ValueError(f"the model of day {self.day.day} is not shared (built with shared=False)")
        for name, value in data.items():
            self.data[name].value = value
        self.day = day


# --------------------------------------------------------------------------- constraint families


def constraint_copy(z, x_src, r=None):
    """z = x̂ (+ r): the only door of the first stage into the day [MWh, MW].

    Q_s is convex in x, finite on x ≥ 0 and +∞ below (a negative capacity), so at a component x̂_i = 0 (an
    unbuilt site, no charger) its subdifferential is unbounded below and an interior-point solver returns
    an arbitrary element of it: valid cuts, 10⁴ times too steep, useless. The proximal copy
    z = x̂ + r with ½ Σ_i w_i r_i² in the objective prices Q_ρ(x̂) = min_r Q(x̂ + r) + ½ Σ w r² instead: Q_ρ ≤ Q
    and convex, so a cut from it is valid for Q; its dual is unique (the term makes the dual strongly
    concave) and equals ∇Q_ρ(x̂) = w ⊙ r, close to Q's right derivative; Q − Q_ρ ≤ Σ g_i² / (2 w_i). The
    model itself is not changed (no free capacity): the final plan is re-evaluated with EXACT_WEIGHT."""
    return z == (x_src if r is None else x_src + r)


def shunt_consumption(grid: GridVariables, ref):
    """(g_j v_j, −b_j v_j): what bus j's shunts consume (line charging, magnetising branches) [pu]. Linear in
    v = |V|², so exact in DistFlow and LinDistFlow alike. Callers add it only when the feeder has shunts."""
    return cp.multiply(ref.shunt_g_pu[:, None], grid.v), cp.multiply(-ref.shunt_b_pu[:, None], grid.v)


def constraint_power_balance(grid: GridVariables, ref, p_net, q_net):
    """P_ij − r_ij ℓ_ij − Σ_k P_jk = p_j + g_j v_j,  Q_ij − x_ij ℓ_ij − Σ_k Q_jk = q_j − b_j v_j
    (p, q: net consumption; g, b: shunts) [pu]; LinDistFlow without the loss terms."""
    loss_p, loss_q = grid.form.series_losses(grid, ref)
    if ref.shunt_g_pu is not None:
        shunt_p, shunt_q = shunt_consumption(grid, ref)
        p_net, q_net = p_net + shunt_p, q_net + shunt_q
    return [grid.P - loss_p - ref.child_lines @ grid.P == p_net[1:],
            grid.Q - loss_q - ref.child_lines @ grid.Q == q_net[1:]]


def constraint_voltage_drop(grid: GridVariables, ref):
    """v_j = v_i − 2(r_ij P_ij + x_ij Q_ij) + (r_ij² + x_ij²) ℓ_ij   [pu²]; LinDistFlow without the ℓ term."""
    return [grid.v[1:] == ref.line_parent @ grid.v - grid.form.voltage_drop(grid, ref)]


def constraint_model_current(grid: GridVariables, ref):
    """What ties the current to the flows: P_ij² + Q_ij² ≤ v_i ℓ_ij (SOCP); nothing in LinDistFlow."""
    return grid.form.model_current(grid, ref)


def constraint_limits(grid: GridVariables, ref):
    """v_min² ≤ v ≤ v_max², v_0 = v_sub²; ℓ ≤ I_max² (SOCP) or P² + Q² ≤ I_max² (LinDistFlow), rated branches
    only (unrated ones have no limit rows)."""
    cons = [grid.v[0] == ref.v_sub_pu ** 2, grid.v[1:] >= ref.v_min_pu ** 2, grid.v[1:] <= ref.v_max_pu ** 2]
    rated = np.flatnonzero(np.isfinite(ref.i_max_pu))
    if not rated.size:
        return cons
    i_max = np.repeat(ref.i_max_pu[rated, None], grid.P.shape[1], axis=1)
    return cons + grid.form.current_limit(grid, rated, i_max)


def constraint_substation(grid: GridVariables, ref):
    """p_buy − p_sell = p_0 := Σ_k P_0k + g_0 v_0;  p_0² + q_0² ≤ S_0² (q_0 := Σ_k Q_0k − b_0 v_0) and
    p_sell ≤ export limit (when limited)   [pu]."""
    p0, q0 = ref.root_lines @ grid.P, ref.root_lines @ grid.Q
    if ref.shunt_g_pu is not None:
        shunt_p, shunt_q = shunt_consumption(grid, ref)
        p0, q0 = p0 + shunt_p[0], q0 + shunt_q[0]
    cons = [grid.p_buy - grid.p_sell == p0]
    if np.isfinite(ref.export_max_pu):
        cons.append(grid.p_sell <= ref.export_max_pu)
    if np.isfinite(ref.s_sub_max_pu):
        cons.append(cp.SOC(np.full(p0.shape[0], ref.s_sub_max_pu), cp.vstack([p0, q0]), axis=0))
    return cons


def constraint_pv(var: Variables, avail_pu):
    """0 ≤ p_pv ≤ available: curtailment allowed [pu]."""
    return [var.p_pv <= avail_pu]


def constraint_load_shed(var: Variables, load_p_pu):
    """0 ≤ shed ≤ load [pu]; `model.load_shed = "power_factor"` sheds the bus's reactive load in proportion,
    `"active"` active power only (see the net injection in build_operation)."""
    return [var.shed <= load_p_pu]


def constraint_storage_energy(var: Variables, dt_h, e_pu, window):
    """e[t+1] = e[t] + Δt·p_b[t]; e_min·E ≤ e ≤ e_max·E; e[T] = e[0]   [pu·h]."""
    lo, hi = window
    cons = [var.e[:, 1:] == var.e[:, :-1] + dt_h * var.storage.p_batt, var.e[:, -1] == var.e[:, 0]]
    e_cap = cp.reshape(e_pu, (e_pu.shape[0], 1), order="F") @ np.ones((1, var.e.shape[1]))
    cons += [var.e >= lo * e_cap, var.e <= hi * e_cap]
    return cons


def constraint_storage_inverter(var: Variables, p, rating, reactive_power: bool):
    """Four-quadrant inverter ‖(p, q_b)‖ ≤ P_k, or with `reactive_power = false` active power only:
    |p| ≤ P_k, q_b = 0   [pu]."""
    if reactive_power:
        return [cp.SOC(vec(rating), cp.vstack([vec(p), vec(var.q_st)]), axis=0)]
    return [p <= rating, -p <= rating, var.q_st == 0]


def constraint_storage_loss_branch(var: Variables, v_bus, p_rating, r_virtual, reactive_power: bool):
    """Virtual-resistance branch: grid side p_b + R ℓ_b, p_b² + q_b² ≤ v_k ℓ_b, inverter rating on (p_b, q_b) [pu]."""
    p_b, l_b = var.storage.p_batt, var.storage.l_batt
    steps = p_b.shape[1]
    rating = cp.reshape(p_rating, (p_rating.shape[0], 1), order="F") @ np.ones((1, steps))
    return [var.p_st == p_b + r_virtual * l_b, rotated_cone([p_b, var.q_st], v_bus, l_b)] + \
        constraint_storage_inverter(var, p_b, rating, reactive_power)


def constraint_storage_efficiency(var: Variables, p_rating, eta_c, eta_d, reactive_power: bool):
    """p_b = η_c p_ch − p_dis/η_d (battery side), grid side p_ch − p_dis; p_ch, p_dis ≤ P_k; inverter rating
    on the grid side (p, q)."""
    p_ch, p_dis = var.storage.p_ch, var.storage.p_dis
    steps = p_ch.shape[1]
    rating = cp.reshape(p_rating, (p_rating.shape[0], 1), order="F") @ np.ones((1, steps))
    return [var.storage.p_batt == eta_c * p_ch - p_dis / eta_d, var.p_st == p_ch - p_dis,
            p_ch <= rating, p_dis <= rating] + constraint_storage_inverter(var, var.p_st, rating, reactive_power)


def constraint_ev_station(var: Variables, data: dict, fleets, base, dt_h, c_pu, cfg: EVOptions):
    """Controllable EVs: (S_b p_ch,n, S_b p_dis,n) in station n's region (ev/regions.py: envelope, interval
    or individual), owing S_b short_n MWh grid side (η S_b short_n in the battery);
    uncontrolled: 0 ≤ p_unc ≤ fixed; charger capacity: p_ch + p_dis + p_unc ≤ C_n, and with reactive support ‖(p_ch − p_dis + p_unc, q)‖ ≤ C_n,
    else q = 0   [pu]."""
    n_st, steps = var.p_unc.shape
    cons = [var.p_unc <= data["ev_fixed"]]
    for n in range(n_st):
        p_ch, p_dis = base * var.p_ev_ch[n], base * var.p_ev_dis[n] if cfg.v2g else None
        short = base * cfg.efficiency * var.ev_short[n]
        if cfg.aggregation == "envelope":       # from the day data: Parameters in a shared model
            region = envelope_region(data["ev_p_max"][n], data["ev_e_lo"][n], data["ev_e_hi"][n], cfg.efficiency,
                                     dt_h, p_ch, p_dis, short)
        else:
            region = station_region(cfg.aggregation, fleets[n], p_ch, p_dis, short)
        cons += region.constraints
    if not cfg.v2g:
        cons.append(var.p_ev_dis == 0)
    cap = cp.reshape(c_pu, (n_st, 1), order="F") @ np.ones((1, steps))
    cons.append(var.p_ev_ch + var.p_ev_dis + var.p_unc <= cap)
    if cfg.reactive_support:
        net = var.p_ev_ch - var.p_ev_dis + var.p_unc
        cons.append(cp.SOC(vec(cap), cp.vstack([vec(net), vec(var.q_ev)]), axis=0))
    else:
        cons.append(var.q_ev == 0)
    return cons


# --------------------------------------------------------------------------- recipe


def shareable(inst: DayInputs) -> bool:
    """Whether every day's model has the same structure, so one model with its day data as Parameters can
    serve them all (`build_operation(shared=True)`): EV stations as envelopes (the other regions have rows per
    EV or per interval, which differ by day) or no stations."""
    return inst.options.ev.aggregation == "envelope" or not len(inst.ref.station_bus)


def day_data(inst: DayInputs, day: Day) -> dict[str, np.ndarray]:
    """Every number of a day the model reads: loads, the shed reactive ratio q/p, PV availability and the
    uncontrolled EV charging [pu]; prices [EUR/MWh] and carbon intensity [t/MWh]; with `envelope` stations,
    their summed power bounds [MW] and energy windows [MWh, battery side] (ev/regions.envelope_sums)."""
    base = inst.ref.base_mva
    load_p, load_q = day.load_p_mw / base, day.load_q_mvar / base
    data = {"load_p": load_p, "load_q": load_q,
            "shed_q_ratio": np.divide(load_q, load_p, out=np.zeros_like(load_q), where=load_p > 0),
            "pv_avail": day.pv_avail_mw / base, "ev_fixed": day.ev.fixed_p_mw / base,
            "buy": day.buy_eur_per_mwh, "sell": day.sell_eur_per_mwh, "carbon": day.carbon_t_per_mwh}
    if inst.options.ev.aggregation == "envelope" and len(inst.ref.station_bus):
        sums = [envelope_sums(fleet) for fleet in day.ev.fleets]
        data.update({name: np.array([s[i] for s in sums]) for i, name in enumerate(("ev_p_max", "ev_e_lo",
                                                                                       "ev_e_hi"))})
    return data


def shared_day_data(inst: DayInputs, day: Day) -> dict[str, np.ndarray]:
    """The day data a shared model holds as Parameters: `day_data` but the power factors (constant there) and
    empty arrays. The day's reactive loads must follow the feeder's power factors, which a shared model assumes."""
    data = day_data(inst, day)
    if not np.allclose(data["load_q"], inst.ref.load_q_over_p[:, None] * data["load_p"], rtol=1e-9, atol=1e-12):
        raise ValueError(f"day {day.day}'s reactive loads do not follow the feeder's power factors")
    return {name: value for name, value in data.items() if value.size and name not in ("shed_q_ratio", "load_q")}


def build_operation(inst: DayInputs, day: Day, x_src=None, shared: bool = False) -> DayModel:
    """The day's SOCP (or LinDistFlow) model. `x_src=None` makes a Parameter x̂ for Benders. `shared`: the
    day's data become Parameters (`DayModel.use` sets another day's; needs `shareable(inst)`)."""
    ref, opt, fs = inst.ref, inst.options, inst.first
    base, dt = ref.base_mva, day.dt_h
    if shared and not shareable(inst):
        raise ValueError("EV stations other than envelopes differ in structure by day: no shared model")
    data = day_data(inst, day)
    if shared:      # every number a Parameter but each bus's nominal power factor (see DayModels): q = (q/p) ⊙ p,
        # the feeder's own q/p (days.py makes every day's loads with it): from the build day, a last-bit
        # difference made runs on 1 and 2 ranks differ (each rank builds from its own first day)
        ratio = np.repeat(ref.load_q_over_p[:, None], day.steps, axis=1)
        data = {name: cp.Parameter(value.shape, value=value) for name, value in shared_day_data(inst, day).items()}
        data.update(shed_q_ratio=ratio, load_q=cp.multiply(ratio, data["load_p"]))
    n, t = ref.n_bus, day.steps
    k, n_st, n_pv = len(ref.storage_bus), len(ref.station_bus), len(ref.pv_bus)
    form, storage_model = FORMULATIONS[opt.formulation], STORAGE_MODELS[opt.storage_model]

    grid = GridVariables.create(form, ref, t)
    var = Variables(
        **{f.name: getattr(grid, f.name) for f in fields(GridVariables)},
        shed=cp.Variable((n, t), nonneg=True), p_pv=cp.Variable((n_pv, t), nonneg=True), z=cp.Variable(fs.n_x),
        e=cp.Variable((k, t + 1), nonneg=True), p_st=cp.Variable((k, t)), q_st=cp.Variable((k, t)),
        p_ev_ch=cp.Variable((n_st, t), nonneg=True), p_ev_dis=cp.Variable((n_st, t), nonneg=True),
        q_ev=cp.Variable((n_st, t)), p_unc=cp.Variable((n_st, t), nonneg=True),
        ev_short=cp.Variable(n_st, nonneg=True))
    x_hat = prox = r = None
    if x_src is None:
        x_hat = x_src = cp.Parameter(fs.n_x, value=np.zeros(fs.n_x))
        if fs.n_x:
            prox = cp.Parameter(fs.n_x, nonneg=True, value=proximal_weights(np.zeros(fs.n_x), cut=False))
            r = cp.Variable(fs.n_x)
    capacity = var.z + opt.capacity_floor * fs.x_max        # new build + floor [MWh, MW]
    e_pu, p_pu, c_pu = capacity[:k] / base, capacity[k:2 * k] / base, capacity[2 * k:] / base

    load_p, load_q, pq = data["load_p"], data["load_q"], data["shed_q_ratio"]
    at_pv, at_st, at_ev = incidence(n, ref.pv_bus), incidence(n, ref.storage_bus), incidence(n, ref.station_bus)
    p_net = load_p - var.shed - at_pv @ var.p_pv
    q_net = load_q - cp.multiply(pq, var.shed) if opt.load_shed == "power_factor" else load_q
    if k:
        p_net = p_net + at_st @ var.p_st
        q_net = q_net + at_st @ var.q_st
    if n_st:
        p_net = p_net + at_ev @ (var.p_ev_ch - var.p_ev_dis + var.p_unc)
        q_net = q_net + at_ev @ var.q_ev

    copy = constraint_copy(var.z, x_src, r)
    cons = [copy]
    cons += constraint_power_balance(var, ref, p_net, q_net)
    cons += constraint_voltage_drop(var, ref)
    cons += constraint_model_current(var, ref)
    cons += constraint_limits(var, ref)
    cons += constraint_substation(var, ref)
    cons += constraint_load_shed(var, load_p)
    if n_pv:
        cons += constraint_pv(var, data["pv_avail"])
    st = opt.storage
    if k:
        var.storage = storage_model.variables(k, t)
        cons += constraint_storage_energy(var, dt, e_pu, (st.soc_min, st.soc_max))
        cons += storage_model.constraints(var, ref, p_pu, st)
    if n_st:
        cons += constraint_ev_station(var, data, day.ev.fleets, base, dt, c_pu, opt.ev)

    cost = objective_terms(var, inst, data, dt)
    objective = sum(cost.values()) + (cp.sum_squares(cp.multiply(prox, r)) if r is not None else 0)
    problem = cp.Problem(cp.Minimize(objective), cons)
    return DayModel(day=day, ref=ref, problem=problem, var=var, copy=copy, x_hat=x_hat, cost=cost, prox=prox, r=r,
                    data=data if shared else None)


# A shared model pays from about this many days on a process. Measured on the default case: cvxpy compiles it
# with its day data as Parameters in 0.45 s (0.25 s for the business-as-usual day, which has no storage and no
# EV decisions), a day's own model in ~0.06 s; a solve through the shared model costs ~1 ms more. Days solved
# once (the baseline, an evaluation) gain from 8 days; days priced in every Benders round only from more, as
# the extra millisecond repeats (at K = 10, 14 rounds: no gain either way).
SHARED_FROM_DAYS = 24
SHARED_FROM_DAYS_ONCE = 8
# ... and only while cvxpy's compile of it stays small: its workspace grows as variables × parameter entries
# (default case 4 803 × 1 364: 155 MB at its peak; CIGRE MV 49e6 and SimBench MV 114e6 would take GBs).
SHARED_MAX_SIZE = 1e7


class DayModels:
    """The models of the days a process solves, built on first use. With many days (SHARED_FROM_DAYS, or
    SHARED_FROM_DAYS_ONCE when each day is solved once: not `keep`) of a shared structure (`shareable`) on a
    small enough feeder (SHARED_MAX_SIZE), one model with its day data as Parameters serves them all: cvxpy
    compiles once instead of once per day and memory holds one model. Otherwise one model per day, kept
    (`keep`) or built afresh each time (days solved once)."""

    def __init__(self, inst: PlanInputs, days_here: int, keep: bool = True):
        self.inst, self.keep = inst, keep
        self.shared = shareable(inst) and days_here >= (SHARED_FROM_DAYS if keep else SHARED_FROM_DAYS_ONCE)
        self._models: dict[int, DayModel] = {}
        self._data: dict[int, dict] = {}        # a shared model's Parameter values per day, made once per day
        self.build_s = 0.0

    def __call__(self, d: int) -> DayModel:
        """Day d's model, set to day d."""
        day = self.inst.days[d]
        if self.shared and not self._models:
            self._build(0, day, shared=True)
            problem = self._models[0].problem
            if sum(v.size for v in problem.variables()) * sum(p.size for p in problem.parameters()) \
                    > SHARED_MAX_SIZE:
                self.shared, self._models = False, {}
        if self.shared:
            self._models[0].use(day, self._shared_data(d))
            return self._models[0]
        return self._models.get(d) or self._build(d, day, shared=False)

    def _build(self, key: int, day: Day, shared: bool) -> DayModel:
        t0 = time.perf_counter()
        model = build_operation(self.inst, day, shared=shared)
        self.build_s += time.perf_counter() - t0
        if self.keep:                 # solved again and again: keep its Clarabel solver too
            model.kept = kept_solver(model, self._shared_data(0) if shared else None)
        if self.keep or shared:
            self._models[key] = model
        return model

    def _shared_data(self, d: int) -> dict:
        """Day d's Parameter values for the shared model, made once per day."""
        if d not in self._data:
            self._data[d] = shared_day_data(self.inst, self.inst.days[d])
        return self._data[d]


def kept_solver(model: DayModel, day_data: dict | None = None) -> KeptSolver:
    """A KeptSolver for `model` set up at its reference: x̂ = 0 priced for a cut (Benders' first plan) and, for a
    shared model, the data of `day_data` (the instance's first day, the same on every rank)."""
    def reference() -> dict:
        saved = {param: param.value for param in model.problem.parameters()}
        model.x_hat.value = np.zeros(model.x_hat.size)
        if model.prox is not None:
            model.prox.value = proximal_weights(model.x_hat.value, cut=True)
        for name, value in (day_data or {}).items():
            model.data[name].value = value
        data = model.problem.get_problem_data(cp.CLARABEL)[0]
        for param, value in saved.items():
            param.value = value
        return data
    return KeptSolver(reference)


def proximal_weights(x_hat: np.ndarray, cut: bool) -> np.ndarray:
    """√(OBJ_SCALE · w / 2) for the proximal copy at x̂: CUT_WEIGHT on boundary components when a cut is
    wanted, EXACT_WEIGHT elsewhere (and everywhere for an exact evaluation)."""
    w = np.where(cut & (np.asarray(x_hat) <= BOUNDARY), CUT_WEIGHT, EXACT_WEIGHT)
    return np.sqrt(0.5 * OBJ_SCALE * w)


def objective_terms(var: Variables, inst: DayInputs, data: dict, dt: float) -> dict[str, cp.Expression]:
    """Per day [100 kEUR]:
    energy  = Σ_t Δt S_b (c_buy p_buy − c_sell p_sell);  carbon = Σ_t Δt S_b κ_t c_CO2 p_buy;
    penalty = VoLL Δt S_b Σ shed + c_EV S_b (Σ short + Δt Σ (fixed − p_unc));
    balance = w_bal · mean_{l,t} ℓ_lt / I_max,l²   (LinDistFlow: (P² + Q²) / I_max²)."""
    m, base = inst.options, inst.ref.base_mva
    scale = OBJ_SCALE * dt * base
    terms = {
        "energy": scale * (data["buy"] @ var.p_buy - data["sell"] @ var.p_sell),
        "carbon": scale * m.carbon_price_eur_per_t * (data["carbon"] @ var.p_buy),
        "penalty": scale * m.load_shed_cost_eur_per_mwh * cp.sum(var.shed),
    }
    if var.p_unc.shape[0]:
        terms["penalty"] = terms["penalty"] + OBJ_SCALE * base * m.ev_unmet_cost_eur_per_mwh * (
            cp.sum(var.ev_short) + dt * cp.sum(data["ev_fixed"] - var.p_unc))
    if m.balance_weight_eur > 0:
        inv_i2 = (1.0 / inst.ref.i_max_pu ** 2)[:, None]         # 0 on unrated branches: no loading ratio
        flow = var.form.squared_current(var)
        terms["balance"] = OBJ_SCALE * m.balance_weight_eur * cp.sum(cp.multiply(inv_i2, flow)) / flow.size
    return terms


# --------------------------------------------------------------------------- solve and read back


def solve_day(model: DayModel, x_hat: np.ndarray | None = None, cut: bool = False) -> DaySolution:
    """Set x̂ (if a Parameter model), solve, and read cost, subgradient and dispatch in engineering units.
    `cut`: price for a Benders cut (CUT_WEIGHT at boundary components), else evaluate exactly."""
    if x_hat is not None:
        model.x_hat.value = np.asarray(x_hat, dtype=float)
        if model.prox is not None:
            model.prox.value = proximal_weights(model.x_hat.value, cut)
    report = solve_conic(model.problem, f"day {model.day.day}", model.kept)
    return replace(read_solution(model), retries=report.retries, solver_s=report.solver_s)


def read_solution(model: DayModel) -> DaySolution:
    var, day = model.var, model.day
    base, dt = model.ref.base_mva, day.dt_h
    parts = {name: float(expr.value) / OBJ_SCALE for name, expr in model.cost.items()}
    dual = model.copy.dual_value
    gradient = -np.asarray(dual, dtype=float) / OBJ_SCALE if dual is not None else np.zeros(var.z.shape[0])
    v = var.v.value
    gap = var.form.relaxation_gap(var, model.ref)
    p_pv = var.p_pv.value * base
    ev_unmet = 0.0
    if var.p_unc.shape[0]:
        ev_unmet = float(var.ev_short.value.sum() * base + dt * (day.ev.fixed_p_mw - var.p_unc.value * base).sum())
    dispatch = {
        "v_pu": np.sqrt(np.maximum(v, 0.0)), "p_line_mw": var.P.value * base, "q_line_mvar": var.Q.value * base,
        "import_mw": var.p_buy.value * base, "export_mw": var.p_sell.value * base,
        "pv_mw": p_pv, "pv_avail_mw": day.pv_avail_mw, "shed_mw": var.shed.value * base,
        "storage_p_mw": _value(var.p_st) * base, "storage_q_mvar": _value(var.q_st) * base,
        "storage_e_mwh": _value(var.e) * base,
        "ev_p_mw": (_value(var.p_ev_ch) - _value(var.p_ev_dis) + _value(var.p_unc)) * base,
        "ev_discharge_mw": _value(var.p_ev_dis) * base,                 # V2G, to the grid
        "ev_q_mvar": _value(var.q_ev) * base,
    }
    loading = var.form.loading(var, model.ref)
    if loading is not None:             # LinDistFlow has no current to compare with a rating
        dispatch["loading"] = loading
    cost_eur = float(sum(parts.values()))
    return DaySolution(
        day=day.day, cost_eur=cost_eur, parts_eur=parts, gradient=gradient,
        value_eur=float(model.problem.value) / OBJ_SCALE if model.r is not None else cost_eur,
        residue=float(np.abs(model.r.value).max(initial=0.0)) if model.r is not None else 0.0,
        relaxation_gap=gap, carbon_t=float(day.carbon_t_per_mwh @ var.p_buy.value * base * dt),
        pv_used_mwh=float(p_pv.sum() * dt), pv_available_mwh=float(day.pv_avail_mw.sum() * dt),
        shed_mwh=float(var.shed.value.sum() * base * dt), ev_unmet_mwh=ev_unmet, dispatch=dispatch)


def _value(expr) -> np.ndarray:
    return np.zeros(expr.shape) if 0 in expr.shape else np.asarray(expr.value)
