"""Options a standard instance needs: each changes what it should and nothing else."""
import json

import numpy as np
import pytest

from conftest import base_case, instance_of, make_net, save_net
from stochplan.cli import main
from stochplan.errors import InputError
from stochplan.formulations.operation import build_operation, solve_day
from test_cli import write_case


def storage_day(tmp_path, formulation="socp", v_min=0.8, reactive_power=True, load_shed="power_factor",
                max_i_ka=1.0, network=None):
    """Bus 0 — 1 — 2, loads with reactive power, storage fixed at bus 2, two steps at 10 and 50 EUR/MWh."""
    net = make_net([(0, 1), (1, 2)], {1: (0.8, 0.4), 2: (1.0, 0.6)}, r_ohm=2.0, x_ohm=3.0, max_i_ka=max_i_ka)
    data = base_case(save_net(net, tmp_path / "n.json"),
                     network={"source": str(tmp_path / "n.json"), "v_min_pu": v_min, "v_max_pu": 1.1, **(network or {})},
                     model={"formulation": formulation, "load_shed": load_shed, "load_shed_cost_eur_per_mwh": 300.0},
                     storage={"candidates": [2], "siting": "fixed", "fixed_sites": [2], "max_energy_mwh": 12.0,
                              "max_power_mw": 1.0, "loss_resistance_pu": 0.01, "reactive_power": reactive_power})
    inst = instance_of(data, tmp_path)
    return inst, build_operation(inst, inst.days[0])


def test_active_power_only_storage_has_no_q_and_costs_no_less(tmp_path):
    # a tight voltage floor: reactive support from the inverter is worth money
    four, m4 = storage_day(tmp_path, v_min=0.93)
    two, m2 = storage_day(tmp_path, v_min=0.93, reactive_power=False)
    x = np.array([4.0, 1.0])
    s4, s2 = solve_day(m4, x), solve_day(m2, x)
    assert np.abs(s2.dispatch["storage_q_mvar"]).max() < 1e-7
    assert np.abs(s4.dispatch["storage_q_mvar"]).max() > 1e-3
    assert s2.cost_eur >= s4.cost_eur - 1e-6
    assert s2.cost_eur > s4.cost_eur + 1.0                 # here Q is useful
    # where Q is not useful (LinDistFlow, loose limits, no losses) the cost is the same
    _, l4 = storage_day(tmp_path, formulation="lindistflow")
    _, l2 = storage_day(tmp_path, formulation="lindistflow", reactive_power=False)
    assert solve_day(l2, x).cost_eur == pytest.approx(solve_day(l4, x).cost_eur, rel=2e-6)   # solver tolerance


def test_active_load_shedding_keeps_the_reactive_load(tmp_path):
    # 0.95 pu floor without storage: the feeder must shed; "active" keeps the buses' q and so sheds more
    _, pf = storage_day(tmp_path, formulation="lindistflow", v_min=0.9)
    _, act = storage_day(tmp_path, formulation="lindistflow", v_min=0.9, load_shed="active")
    zero = np.zeros(2)
    s_pf, s_act = solve_day(pf, zero), solve_day(act, zero)
    assert s_pf.shed_mwh > 0.01
    assert s_act.shed_mwh > s_pf.shed_mwh and s_act.cost_eur > s_pf.cost_eur


def test_unrated_branches_get_no_limit_rows(tmp_path):
    net = make_net([(0, 1), (1, 2)], {1: (0.8, 0.4), 2: (1.0, 0.6)}, max_i_ka=99999.0)    # pandapower: no rating
    src = save_net(net, tmp_path / "u.json")
    with pytest.raises(InputError, match="unrated_branches = 'unlimited'"):
        instance_of(base_case(src), tmp_path)
    unlimited = instance_of(base_case(src, network={"source": src, "v_min_pu": 0.8, "unrated_branches": "unlimited"}),
                            tmp_path)
    assert np.isinf(unlimited.ref.i_max_pu).all() and np.isinf(unlimited.ref.s_sub_max_pu)
    rated = instance_of(base_case(src, network={"source": src, "v_min_pu": 0.8, "default_max_i_ka": 500.0}), tmp_path)
    m_u, m_r = build_operation(unlimited, unlimited.days[0]), build_operation(rated, rated.days[0])
    assert len(m_u.problem.constraints) < len(m_r.problem.constraints)
    # equal to Clarabel's tolerance (1e-3 EUR a day in its unit)
    assert solve_day(m_u, np.zeros(0)).cost_eur == pytest.approx(solve_day(m_r, np.zeros(0)).cost_eur, abs=5e-3)


def test_every_json_written_is_standard_json(tmp_path):
    """LinDistFlow has no ℓ, so some AC figures are undefined: they are null, never NaN."""
    case = write_case(tmp_path)
    case.write_text(case.read_text().replace('formulation = "socp"', 'formulation = "lindistflow"'))
    out = tmp_path / "out"
    assert main(["plan", str(case), "--out", str(out), "-q"]) == 0

    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    doc = json.loads((out / "results.json").read_text(), parse_constant=refuse)
    assert doc["metrics"]["ac_max_loading_diff"] is None
    json.loads((out / "checkpoint.json").read_text(), parse_constant=refuse)
    assert doc["built_threshold"]["mwh_or_mw"] == 1e-3
