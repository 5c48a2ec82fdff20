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
    def child_lines(self) -> sp.csr_matrix:
        """(L×L): row l sums the flows on the branches leaving bus l+1, Σ_k P_jk."""
        rows = self.parent[2:] - 1          # branch into the parent of bus m+1 (m ≥ 1); root-parented skipped
        cols = np.arange(1, self.n_line)
        keep = rows >= 0
        return sp.csr_matrix((np.ones(keep.sum()), (rows[keep], cols[keep])), shape=(self.n_line, self.n_line))

    @cached_property
    def line_parent(self) -> sp.csr_matrix:
        """(L×N): picks the sending-end (parent) bus of each branch."""
        return sp.csr_matrix((np.ones(self.n_line), (np.arange(self.n_line), self.parent[1:])),
                             shape=(self.n_line, self.n_bus))

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
    return Ref(name=name, base_mva=cfg.base_mva, bus_ids=np.array(order),
               parent=np.array([-1] + [internal[parent_of[b]] for b in order[1:]]),
               branch_names=tuple(r[0] for r in rows),
               r_pu=np.array([r[3] for r in rows]), x_pu=np.array([r[4] for r in rows]), i_max_pu=i_max,
               s_sub_max_pu=float(s_sub), v_min_pu=cfg.v_min_pu, v_max_pu=cfg.v_max_pu,
               v_sub_pu=cfg.v_substation_pu, load_p_pu=load_p, load_q_pu=load_q,
               vn_kv=np.array([vn[b] for b in order], dtype=float),
               branch_kind=tuple(r[0].split()[0] for r in rows),
               branch_element=np.array([int(r[0].split()[1]) for r in rows], dtype=int),
               export_max_pu=math.inf if cfg.max_export_mw is None else cfg.max_export_mw / cfg.base_mva)


SOURCE = "network.source"     # the case field every feeder error names


def _branches(net, base: float, buses) -> list[tuple]:
    """In-service lines and transformers behind closed switches: (name, from, to, r_pu, x_pu, i_max_pu or None)."""
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
                         row.x_ohm_per_km * row.length_km / par / z_base, rating))
    for idx, row in net.trafo.iterrows():
        if not row.in_service or opened("t", idx):
            continue
        # Series impedance from the short-circuit voltages on the system base; taps and magnetising branch
        # are ignored (DistFlow has no shunt branch, and nominal ratios equal the bus voltages in our cases).
        z = row.vk_percent / 100 * base / (row.sn_mva * row.parallel)
        r = row.vkr_percent / 100 * base / (row.sn_mva * row.parallel)
        branches.append((f"trafo {idx}", int(row.hv_bus), int(row.lv_bus), r, math.sqrt(max(z * z - r * r, 0.0)),
                         row.sn_mva * row.parallel * row.df / base))
    if len(net.get("impedance", [])) and net.impedance.in_service.any():
        raise InputError(SOURCE, "impedance elements are not supported; model them as lines")
    for name_, f, t, r, x, _ in branches:
        if f not in buses or t not in buses:
            raise InputError(SOURCE, f"{name_} connects an out-of-service bus ({f}–{t}); take it out of service too")
        if not (r > 0 and x > 0):
            raise InputError(SOURCE, f"{name_} has non-positive impedance (r={r:.3g}, x={x:.3g} pu); give r and x > 0")
    return branches


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
