"""Small real feeders and case dictionaries for the tests (no mocks: real pandapower nets, real solvers)."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

from stochplan.config import case_from_dict
from stochplan.instance import build_instance

logging.getLogger("pandapower").setLevel(logging.ERROR)


def make_net(lines, loads, vn_kv=10.0, r_ohm=1.0, x_ohm=1.0, max_i_ka=1.0):
    """A radial pandapower net: `lines` as (from, to) pairs, `loads` as {bus: (p_mw, q_mvar)}."""
    import pandapower as pp

    n_bus = 1 + max(max(f, t) for f, t in lines)
    net = pp.create_empty_network(sn_mva=1.0)
    for i in range(n_bus):
        pp.create_bus(net, vn_kv=vn_kv, index=i)
    pp.create_ext_grid(net, bus=0, vm_pu=1.0)
    for f, t in lines:
        pp.create_line_from_parameters(net, f, t, length_km=1.0, r_ohm_per_km=r_ohm, x_ohm_per_km=x_ohm,
                                       c_nf_per_km=0.0, max_i_ka=max_i_ka)
    for bus, (p, q) in loads.items():
        pp.create_load(net, bus, p_mw=p, q_mvar=q)
    return net


def save_net(net, path: Path) -> str:
    import pandapower as pp

    pp.to_json(net, str(path))
    return str(path)


def base_case(source: str, **sections) -> dict:
    """A case dictionary with neutral defaults; `sections` override whole tables."""
    data = {
        "name": "test",
        "network": {"source": source, "v_min_pu": 0.8, "v_max_pu": 1.2},
        "time": {"steps_per_day": 2},
        "model": {"formulation": "lindistflow", "capacity_floor": 0.0},
        "prices": {"buy_eur_per_mwh": [10.0, 50.0], "sell_eur_per_mwh": [0.0]},
        "scenarios": {"source": "explicit", "day": [{"weight": 1.0, "load_scale": [1.0]}]},
    }
    data.update(sections)
    return data


def instance_of(data: dict, tmp_path: Path):
    return build_instance(case_from_dict(data, tmp_path / "case.toml"))


@pytest.fixture
def two_bus(tmp_path):
    """Bus 0 (grid) — bus 1 with a 1 MW load; 10 kV, 1 Ω + 1 Ω line."""
    return save_net(make_net([(0, 1)], {1: (1.0, 0.0)}), tmp_path / "two_bus.json")
