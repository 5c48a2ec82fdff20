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


# ------------------------------------------------------------------ MATPOWER feeders

def _write_m(mpc: dict, path, bus_numbers=None) -> str:
    """A MATPOWER version-2 .m case from the arrays of pandapower's to_mpc, optionally renumbering BUS_I."""
    # MATPOWER's own columns only (pandapower's arrays carry extra ones of its own)
    bus, gen, branch = (np.array(mpc[k], dtype=float)[:, :n] for k, n in (("bus", 13), ("gen", 10), ("branch", 13)))
    if bus_numbers is not None:
        new = dict(zip(bus[:, 0], bus_numbers))
        bus[:, 0] = [new[b] for b in bus[:, 0]]
        gen[:, 0] = [new[b] for b in gen[:, 0]]
        branch[:, :2] = [[new[f], new[t]] for f, t in branch[:, :2]]
    text = ["function mpc = case_test", "mpc.version = '2';", f"mpc.baseMVA = {float(mpc['baseMVA'])};"]
    for name, rows in (("bus", bus), ("gen", gen), ("branch", branch)):
        text.append(f"mpc.{name} = [\n" + "\n".join("\t" + "\t".join(repr(float(v)) for v in r) + ";" for r in rows)
                    + "\n];")
    path.write_text("\n".join(text) + "\n")
    return str(path)


def test_a_matpower_feeder_gives_the_same_ref_and_day_cost_with_its_own_bus_numbers(tmp_path):
    import warnings

    import pandapower.networks as pn
    from pandapower.converter.matpower import to_mpc

    from stochplan.network import build_ref, load_net

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mpc = to_mpc(pn.case33bw(), str(tmp_path / "case33bw.mat"), init="flat")["mpc"]
    sources = {"mat": str(tmp_path / "case33bw.mat"), "m": _write_m(mpc, tmp_path / "case33bw.m"),
               "m×10": _write_m(mpc, tmp_path / "case33bw_x10.m", bus_numbers=[10 * (i + 1) for i in range(33)])}
    cfg = load_case_network("pandapower:case33bw", tmp_path)
    ref = build_ref(load_net("pandapower:case33bw"), cfg, "pp")
    costs = {"pandapower": one_day_cost("pandapower:case33bw", lambda b: b, tmp_path)}
    for label, source in sources.items():
        scale = 10 if label == "m×10" else 1
        other = build_ref(load_net(source), load_case_network(source, tmp_path), label)
        assert other.bus_ids.tolist() == [scale * (b + 1) for b in ref.bus_ids], label   # BUS_I, not 0..N−1
        for name in ("parent", "r_pu", "x_pu", "load_p_pu", "load_q_pu", "vn_kv"):
            np.testing.assert_allclose(getattr(other, name), getattr(ref, name), rtol=1e-12, err_msg=name)
        costs[label] = one_day_cost(source, lambda b, s=scale: s * (b + 1), tmp_path)
    assert max(costs.values()) - min(costs.values()) <= 1e-9 * max(costs.values()), costs
    with pytest.raises(InputError, match="is not a MATPOWER case file"):
        (tmp_path / "bad.m").write_text("mpc.bus = [1 2;\n")
        load_net(str(tmp_path / "bad.m"))


def load_case_network(source: str, tmp_path):
    from stochplan.config import case_from_dict

    return case_from_dict(base_case(source, network={"source": source, "default_max_i_ka": 0.3}),
                          tmp_path / "c.toml").network


def one_day_cost(source: str, bus, tmp_path) -> float:
    """A day of the default case's feeder with storage at (what the source calls) bus 17 and PV at 24."""
    data = base_case(source, network={"source": source, "default_max_i_ka": 0.3, "v_min_pu": 0.9},
                     time={"steps_per_day": 4}, model={"formulation": "socp"},
                     prices={"buy_eur_per_mwh": [60.0, 200.0, 90.0, 70.0]},
                     pv=[{"bus": bus(24), "capacity_mw": 0.8}],
                     storage={"candidates": [bus(17)], "siting": "fixed", "fixed_sites": [bus(17)],
                              "max_energy_mwh": 2.0, "max_power_mw": 0.5, "loss_resistance_pu": 0.03},
                     scenarios={"source": "explicit", "day": [{"weight": 1.0, "load_scale": [0.6, 1.0, 0.9, 0.5],
                                                               "pv_scale": [0.0, 0.3, 0.8, 0.1]}]})
    inst = instance_of(data, tmp_path)
    return solve_day(build_operation(inst, inst.days[0]), np.array([1.5, 0.4])).cost_eur


def test_export_limit_curtails_what_the_feeder_cannot_send_upstream(tmp_path):
    """network.max_export_mw: 2 MW of PV against a 0.5 MW load; exports earn 30 EUR/MWh, so without a limit every
    MWh leaves the feeder, with a 0.2 MW limit (LinDistFlow: lossless) 1.3 MW is curtailed."""
    src = save_net(make_net([(0, 1)], {1: (0.5, 0.0)}), tmp_path / "n.json")
    day = {"source": "explicit", "day": [{"weight": 1.0, "load_scale": [1.0], "pv_scale": [1.0]}]}
    sections = dict(time={"steps_per_day": 1}, prices={"buy_eur_per_mwh": [50.0], "sell_eur_per_mwh": [30.0]},
                    pv=[{"bus": 1, "capacity_mw": 2.0}], scenarios=day)
    free = instance_of(base_case(src, **sections), tmp_path)
    limited = instance_of(base_case(src, **sections, network={"source": src, "v_min_pu": 0.8, "v_max_pu": 1.2,
                                                                "max_export_mw": 0.2}), tmp_path)
    s_free = solve_day(build_operation(free, free.days[0]), np.zeros(0))
    s_lim = solve_day(build_operation(limited, limited.days[0]), np.zeros(0))
    assert s_free.dispatch["export_mw"][0] == pytest.approx(1.5, abs=1e-6)
    assert s_lim.dispatch["export_mw"][0] == pytest.approx(0.2, abs=1e-6)
    assert s_lim.dispatch["pv_mw"].sum() == pytest.approx(0.7, abs=1e-6)      # 2 MW available
    with pytest.raises(InputError, match="network.max_export_mw: must be ≥ 0"):
        instance_of(base_case(src, network={"source": src, "max_export_mw": -1.0}), tmp_path)
