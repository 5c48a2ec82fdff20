"""Validate a feeder once and convert it once into a frozen per-unit `Ref`.

Like PowerModels' `ref`: in-service elements only, lookups precomputed, per-unit numpy arrays.
Formulations read the `Ref`, never pandapower tables.

Conventions: internal bus 0 is the root (the external grid's bus); buses are numbered breadth-first
so every parent precedes its children; branch l feeds internal bus l + 1 from its parent.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Mapping

import numpy as np
import scipy.sparse as sp

from ..config import NetworkConfig
from ..errors import InputError

UNLIMITED_KA = 1000.0   # pandapower cases mark "no rating" with huge values (case33bw: 99999 kA)


@dataclass(frozen=True)
class Ref:
    name: str
    base_mva: float
    bus_ids: np.ndarray           # (N,) feeder's own bus index of each internal bus
    parent: np.ndarray            # (N,) internal parent bus, -1 at the root
    branch_names: tuple[str, ...]  # (L,) e.g. "line 3", "trafo 0"
    r_pu: np.ndarray              # (L,) series resistance on the system base
    x_pu: np.ndarray              # (L,) series reactance
    i_max_pu: np.ndarray          # (L,) ampacity; at 1 pu voltage equal to the MVA rating in pu; inf: unrated
    s_sub_max_pu: float           # apparent-power limit at the root; inf: none
    v_min_pu: float
    v_max_pu: float
    v_sub_pu: float
    load_p_pu: np.ndarray         # (N,) base (peak) active load
    load_q_pu: np.ndarray         # (N,) base reactive load
    vn_kv: np.ndarray             # (N,) nominal voltage
    branch_kind: tuple[str, ...] = ()              # (L,) "line" or "trafo": the feeder's element table
    branch_element: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))   # (L,) its index there
    pv_bus: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))           # (n_pv,) internal bus
    storage_bus: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))      # (K,) candidates
    station_bus: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))      # (n_st,) EV stations
    export_max_pu: float = math.inf   # active power the feeder may send upstream; inf: none
    # Shunt admittance at each bus at 1 pu on the system base (line charging, transformer magnetising branches,
    # shunt elements): the bus consumes g v and −b v with v = |V|² (exact in DistFlow: linear in v).
    shunt_g_pu: np.ndarray | None = None    # (N,) conductance; None: no shunts
    shunt_b_pu: np.ndarray | None = None    # (N,) susceptance (capacitive > 0)
    ratio: np.ndarray | None = None         # (L,) off-nominal ratio τ of each branch (1 for lines); None: all 1

    @property
    def n_bus(self) -> int:
        return len(self.bus_ids)

    @property
    def n_line(self) -> int:
        return len(self.r_pu)

    @cached_property
    def index(self) -> Mapping[int, int]:
        """Feeder bus index → internal bus index."""
        return {int(b): i for i, b in enumerate(self.bus_ids)}

    def bus_index(self, field: str, bus: int) -> int:
        if bus not in self.index:
            raise InputError(field, f"bus {bus} is not an in-service bus of feeder '{self.name}' "
                                    f"(buses {min(self.index)}..{max(self.index)})")
        return self.index[bus]

    def with_devices(self, pv: dict[str, int], storage: dict[str, int], stations: dict[str, int]) -> Ref:
        """This feeder with its devices placed: each a {case field: feeder bus id}, checked here (like
        PowerModels' `:bus_storage` lookups). Devices sit on feeder buses, never on the substation."""
        placed = {}
        for name, devices in (("pv_bus", pv), ("storage_bus", storage), ("station_bus", stations)):
            idx = np.array([self.bus_index(where, bus) for where, bus in devices.items()], dtype=int)
            if np.any(idx == 0):
                where = list(devices)[int(np.flatnonzero(idx == 0)[0])]
                raise InputError(where, f"bus {self.bus_ids[0]} is the substation; place devices on feeder buses")
            placed[name] = idx
        return replace(self, **placed)

    @cached_property
    def load_q_over_p(self) -> np.ndarray:
        """(N,) each bus's nominal q/p (0 without load): every day's reactive load is this times its active."""
        return np.divide(self.load_q_pu, self.load_p_pu, out=np.zeros(self.n_bus), where=self.load_p_pu > 0)

    @cached_property
    def child_lines(self) -> sp.csr_matrix:
        """(L×L): row l sums the flows on the branches leaving bus l+1, Σ_k P_jk."""
        rows = self.parent[2:] - 1          # branch into the parent of bus m+1 (m ≥ 1); root-parented skipped
        cols = np.arange(1, self.n_line)
        keep = rows >= 0
        return sp.csr_matrix((np.ones(keep.sum()), (rows[keep], cols[keep])), shape=(self.n_line, self.n_line))

    @cached_property
    def line_parent(self) -> sp.csr_matrix:
        """(L×N): the sending-end voltage each branch's series impedance sees, v_i / τ² (a transformer's ideal
        ratio at its sending end, as in MATPOWER's branch model; τ = 1 for lines)."""
        return sp.csr_matrix((self.sending_weight, (np.arange(self.n_line), self.parent[1:])),
                             shape=(self.n_line, self.n_bus))

    @cached_property
    def sending_weight(self) -> np.ndarray:
        """(L,) 1/τ² of each branch: the share of the sending-end v its series impedance sees."""
        return np.ones(self.n_line) if self.ratio is None else 1.0 / self.ratio ** 2

    @cached_property
    def shunt_admittance(self) -> tuple[np.ndarray, np.ndarray]:
        """(g, b) per bus [pu], zeros without shunts (the formulations add no shunt terms then)."""
        if self.shunt_g_pu is None:
            return np.zeros(self.n_bus), np.zeros(self.n_bus)
        return self.shunt_g_pu, self.shunt_b_pu

    @cached_property
    def root_lines(self) -> np.ndarray:
        """(L,) 1 where a branch leaves the root; the substation injection is root_lines @ P."""
        return (self.parent[1:] == 0).astype(float)


def build_ref(net, cfg: NetworkConfig, name: str) -> Ref:
    """Check that the in-service feeder is one radial tree rooted at its external grid; convert to per unit."""
    grids = net.ext_grid[net.ext_grid.in_service.astype(bool)]
    if len(grids) != 1:
        raise InputError(SOURCE, f"needs exactly one in-service external grid (the substation), found {len(grids)}")
    root = int(grids.bus.iloc[0])
    buses = net.bus.index[net.bus.in_service.astype(bool)]
    vn = net.bus.vn_kv
    branches = _branches(net, cfg.base_mva, buses)
    order, parent_of, via = _radial_order(root, buses, branches)
    internal = {b: i for i, b in enumerate(order)}
    rows = [branches[via[b]] for b in order[1:]]
    i_max = _ratings(rows, [vn[b] for b in order[1:]], cfg)
    root_rating = i_max[[parent_of[b] == root for b in order[1:]]].sum()
    s_sub = cfg.substation_max_mva / cfg.base_mva if cfg.substation_max_mva else root_rating
    load_p, load_q = _loads(net, internal, cfg)
    ratio = np.array([r[6] for r in rows])
    g, b = _shunts(net, internal, cfg.base_mva) if cfg.shunts == "feeder" else (np.zeros(len(order)),) * 2
    shunts = bool(g.any() or b.any())
    return Ref(name=name, base_mva=cfg.base_mva, bus_ids=np.array(order),
               parent=np.array([-1] + [internal[parent_of[b]] for b in order[1:]]),
               branch_names=tuple(r[0] for r in rows),
               r_pu=np.array([r[3] for r in rows]), x_pu=np.array([r[4] for r in rows]), i_max_pu=i_max,
               s_sub_max_pu=float(s_sub), v_min_pu=cfg.v_min_pu, v_max_pu=cfg.v_max_pu,
               v_sub_pu=cfg.v_substation_pu, load_p_pu=load_p, load_q_pu=load_q,
               vn_kv=np.array([vn[b] for b in order], dtype=float),
               branch_kind=tuple(r[0].split()[0] for r in rows),
               branch_element=np.array([int(r[0].split()[1]) for r in rows], dtype=int),
               export_max_pu=math.inf if cfg.max_export_mw is None else cfg.max_export_mw / cfg.base_mva,
               shunt_g_pu=g if shunts else None, shunt_b_pu=b if shunts else None,
               ratio=ratio if np.any(ratio != 1.0) else None)


SOURCE = "network.source"     # the case field every feeder error names


def _branches(net, base: float, buses) -> list[tuple]:
    """In-service lines and transformers behind closed switches:
    (name, from, to, r_pu, x_pu, i_max_pu or None, off-nominal ratio τ)."""
    vn, switches = net.bus.vn_kv, net.switch      # closed bus-bus switches were fused by load_net

    def opened(kind: str, idx: int) -> bool:
        if not len(switches):
            return False
        sel = switches[(switches.et == kind) & (switches.element == idx)]
        return bool((~sel.closed.astype(bool)).any())

    branches = []
    for idx, row in net.line.iterrows():
        if not row.in_service or opened("l", idx):
            continue
        z_base = vn[row.from_bus] ** 2 / base
        par = row.parallel
        rating = None if row.max_i_ka >= UNLIMITED_KA else row.max_i_ka * par * row.df * vn[row.from_bus] * math.sqrt(3) / base
        branches.append((f"line {idx}", int(row.from_bus), int(row.to_bus),
                         row.r_ohm_per_km * row.length_km / par / z_base,
                         row.x_ohm_per_km * row.length_km / par / z_base, rating, 1.0))
    for idx, row in net.trafo.iterrows():
        if not row.in_service or opened("t", idx):
            continue
        # Series impedance from the short-circuit voltages on the system base, behind the ideal ratio at the
        # hv side; the magnetising branch is a shunt at the hv bus (_shunts); the phase shift leaves magnitudes.
        z = row.vk_percent / 100 * base / (row.sn_mva * row.parallel)
        r = row.vkr_percent / 100 * base / (row.sn_mva * row.parallel)
        branches.append((f"trafo {idx}", int(row.hv_bus), int(row.lv_bus), r, math.sqrt(max(z * z - r * r, 0.0)),
                         row.sn_mva * row.parallel * row.df / base, _ratio(row, vn)))
    if len(net.get("impedance", [])) and net.impedance.in_service.any():
        raise InputError(SOURCE, "impedance elements are not supported; model them as lines")
    for name_, f, t, r, x, *_ in branches:
        if f not in buses or t not in buses:
            raise InputError(SOURCE, f"{name_} connects an out-of-service bus ({f}–{t}); take it out of service too")
        if not (r > 0 and x > 0):
            raise InputError(SOURCE, f"{name_} has non-positive impedance (r={r:.3g}, x={x:.3g} pu); give r and x > 0")
    return branches


def _ratio(trafo, vn) -> float:
    """Off-nominal ratio τ = (V_hv,rated / V_hv,bus) / (V_lv,rated / V_lv,bus), the tap applied on its side as
    pandapower 3 does: only a "Ratio" or "Symmetrical" tap changer without a characteristic table moves the
    magnitude, |1 + n Δu e^{jθ}| for n steps off neutral of Δu (tap_step_percent) and θ (tap_step_degree)."""
    hv, lv = trafo.vn_hv_kv / vn[trafo.hv_bus], trafo.vn_lv_kv / vn[trafo.lv_bus]
    if trafo.get("tap_dependency_table") == True or _given(trafo.get("tap2_changer_type")):  # noqa: E712 (numpy bool)
        raise InputError(SOURCE, f"trafo {trafo.name} has a tap characteristic table or a second tap changer, "
                                 "which stochplan does not model; give it a plain Ratio tap changer")
    steps = trafo.get("tap_pos", math.nan) - trafo.get("tap_neutral", math.nan)
    if trafo.get("tap_changer_type") in ("Ratio", "Symmetrical") and math.isfinite(steps):
        du = steps * _number(trafo.get("tap_step_percent")) / 100
        angle = math.radians(_number(trafo.get("tap_step_degree")))
        factor = math.hypot(1 + du * math.cos(angle), du * math.sin(angle))
        if trafo.get("tap_side") == "lv":
            lv *= factor
        else:
            hv *= factor
    return float(hv / lv)


def _given(value) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value)) and value != ""


def _number(value) -> float:
    """A table value as a number, missing (None/NaN) as 0."""
    return 0.0 if value is None or not math.isfinite(float(value)) else float(value)


def _shunts(net, internal: dict[int, int], base: float) -> tuple[np.ndarray, np.ndarray]:
    """(N,) shunt conductance and susceptance per internal bus at 1 pu on the system base [pu]:
    - line charging, π model: half of (g + j 2π f c) · length · parallel at each end, · V_n² / S_base (all of it
      at the closed end of a line with an open switch);
    - transformer magnetising branch at its hv bus, behind the ratio: g = p_Fe / S_base / τ², |y| = i0 % · S_n /
      S_base / τ², b = −√(|y|² − g²) (inductive), times `parallel`;
    - shunt elements: g = p · step / S_base, b = −q · step / S_base (pandapower's q > 0 consumes).
    """
    n = len(internal)
    g, b = np.zeros(n), np.zeros(n)
    vn, omega = net.bus.vn_kv, 2 * math.pi * float(net.get("f_hz", 50.0) or 50.0)
    sw = net.switch
    open_ends = {} if not len(sw) else sw[(sw.et == "l") & ~sw.closed.astype(bool)].groupby("element").bus.apply(set)
    for idx, row in net.line[net.line.in_service.astype(bool)].iterrows():
        ends = [bus for bus in (row.from_bus, row.to_bus) if bus in internal and bus not in open_ends.get(idx, ())]
        per_end = row.length_km * row.parallel / len(ends) * vn[row.from_bus] ** 2 / base if ends else 0.0
        for bus in ends:        # a line open at one end is charged from the other (its open end behind r + jx)
            g[internal[bus]] += row.get("g_us_per_km", 0.0) * 1e-6 * per_end
            b[internal[bus]] += omega * row.c_nf_per_km * 1e-9 * per_end
    for _, row in net.trafo[net.trafo.in_service.astype(bool)].iterrows():
        if row.hv_bus not in internal:
            continue
        seen = 1 / _ratio(row, vn) ** 2       # the branch sits behind the ideal ratio: it sees v_hv / τ²
        g_m = row.pfe_kw / 1000 * row.parallel / base * seen
        y_m = row.i0_percent / 100 * row.sn_mva * row.parallel / base * seen
        g[internal[row.hv_bus]] += g_m
        b[internal[row.hv_bus]] -= math.sqrt(max(y_m * y_m - g_m * g_m, 0.0))
    for _, row in net.shunt[net.shunt.in_service.astype(bool)].iterrows() if len(net.get("shunt", [])) else ():
        if row.bus in internal:
            g[internal[row.bus]] += row.p_mw * row.step / base
            b[internal[row.bus]] -= row.q_mvar * row.step / base
    if not (np.isfinite(g).all() and np.isfinite(b).all()):
        raise InputError(SOURCE, "a line, transformer or shunt has a NaN shunt parameter (c_nf_per_km, pfe_kw, "
                                 "i0_percent, p_mw, q_mvar); fill it in or set network.shunts = \"none\"")
    return g, b


def _radial_order(root: int, buses, branches: list[tuple]):
    """Breadth-first from the root: the order gives parents before children and finds loops and islands.
    → (bus order, parent of each bus, branch into each bus)."""
    adjacency: dict[int, list[int]] = {int(b): [] for b in buses}
    for k, (_, f, t, *_rest) in enumerate(branches):
        adjacency[f].append(k)
        adjacency[t].append(k)
    order, parent_of, via = [root], {root: -1}, {root: -1}
    queue, used = deque([root]), set()
    while queue:
        bus = queue.popleft()
        for k in adjacency[bus]:
            if k in used:
                continue
            used.add(k)
            other = branches[k][2] if branches[k][1] == bus else branches[k][1]
            if other in parent_of:
                raise InputError(SOURCE, f"feeder is meshed: {branches[k][0]} closes a loop; open a switch or take a "
                                         "line out of service so the feeder is radial")
            parent_of[other], via[other] = bus, k
            order.append(other)
            queue.append(other)
    islands = [int(b) for b in buses if b not in parent_of]
    if islands:
        raise InputError(SOURCE, f"buses {islands[:10]} are not connected to the external grid; take them out of "
                                 "service")
    return order, parent_of, via


def _ratings(rows: list[tuple], vn_kv: list[float], cfg: NetworkConfig) -> np.ndarray:
    """(L,) ampacity in pu of each branch in bus order; unrated ones from the case's default or unlimited."""
    missing = [r[0] for r in rows if r[5] is None]
    if missing and cfg.default_max_i_ka is None and cfg.unrated_branches != "unlimited":
        raise InputError("network.default_max_i_ka", f"{len(missing)} branches have no rating ({missing[0]}, ...): "
                                                     "give default_max_i_ka in kA, or unrated_branches = 'unlimited'")
    unrated = math.inf if cfg.default_max_i_ka is None else None      # no limit rows for these branches
    return np.array([r[5] if r[5] is not None else unrated if unrated is not None
                     else cfg.default_max_i_ka * vn * math.sqrt(3) / cfg.base_mva for r, vn in zip(rows, vn_kv)])


def _loads(net, internal: dict[int, int], cfg: NetworkConfig) -> tuple[np.ndarray, np.ndarray]:
    """(N,) base active and reactive load per internal bus [pu]: the feeder's loads less its generators, or
    the case's own nodal data where it gives them."""
    base = cfg.base_mva
    load_p = np.zeros(len(internal))
    load_q = np.zeros(len(internal))
    for table, sign in ((net.load, 1.0), (net.sgen, -1.0)):
        active = table[table.in_service.astype(bool)]
        for bus, p, q, scaling in zip(active.bus, active.p_mw, active.q_mvar, active.scaling):
            if bus in internal:
                load_p[internal[bus]] += sign * p * scaling * cfg.load_scale / base
                load_q[internal[bus]] += sign * q * scaling * cfg.load_scale / base
    if cfg.loads:       # the case's nodal data replace the feeder's own loads and generators
        load_p[:], load_q[:] = 0.0, 0.0
        for i, load in enumerate(cfg.loads):
            if load.bus not in internal:
                raise InputError(f"network.loads[{i}].bus", f"bus {load.bus} is not an in-service bus of the feeder")
            pf = load.power_factor
            load_p[internal[load.bus]] += load.s_mva * pf * cfg.load_scale / base
            load_q[internal[load.bus]] += load.s_mva * math.sqrt(1 - pf * pf) * cfg.load_scale / base
    if not np.isfinite(load_p).all() or not np.isfinite(load_q).all():
        raise InputError(SOURCE, "a load has a NaN or infinite p_mw/q_mvar")
    return load_p, load_q
