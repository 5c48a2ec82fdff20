"""Benders against the extensive form, and the behaviour of its bounds."""
import numpy as np
import pytest

from conftest import instance_of, make_net, save_net
from stochplan.decomposition import solve_benders
from stochplan.formulations.extensive import solve_extensive


@pytest.fixture
def small_case(tmp_path):
    """4 buses (0–1–2, 1–3), 2 synthetic days of 6 steps, 2 storage candidates, 1 EV station, PV."""
    net = make_net([(0, 1), (1, 2), (1, 3)], {1: (0.3, 0.1), 2: (0.5, 0.15), 3: (0.4, 0.1)},
                   vn_kv=10.0, r_ohm=1.0, x_ohm=0.8, max_i_ka=0.2)
    source = save_net(net, tmp_path / "small.json")
    data = {
        "name": "small",
        "network": {"source": source, "v_min_pu": 0.9, "v_max_pu": 1.1},
        "time": {"steps_per_day": 6, "horizon_start_h": 12},
        "model": {"formulation": "socp", "balance_weight_eur": 10.0},
        "prices": {"buy_eur_per_mwh": [60, 60, 60, 60, 60, 60, 90, 120, 120, 120, 100, 100,
                                       100, 100, 100, 120, 220, 220, 220, 220, 220, 160, 90, 70],
                   "sell_eur_per_mwh": [30.0], "carbon_t_per_mwh": [0.4], "carbon_price_eur_per_t": 50.0},
        "pv": [{"bus": 3, "capacity_mw": 0.6}],
        "storage": {"candidates": [2, 3], "max_energy_mwh": 2.0, "max_power_mw": 0.5, "min_duration_h": 1.0,
                    "max_duration_h": 4.0, "energy_cost_eur_per_mwh": 150_000.0, "power_cost_eur_per_mw": 80_000.0,
                    "site_cost_eur": 20_000.0, "soc_min": 0.1, "soc_max": 0.9, "loss_resistance_pu": 0.03},
        "chargers": {"max_capacity_mw": 0.2, "cost_eur_per_mw": 100_000.0, "stations": [{"bus": 2, "evs": 12}]},
        "ev": {"controllable_share": 0.5},
        "scenarios": {"source": "synthetic", "count": 2, "seed": 3},
        "investment": {"max_storage_sites": 1},
    }
    return data, tmp_path


@pytest.mark.parametrize("siting", ["relaxed", "fixed"])
def test_benders_equals_extensive_form(small_case, siting):
    data, tmp_path = small_case
    data["storage"].update(siting=siting, fixed_sites=[2] if siting == "fixed" else [])
    inst = instance_of(data, tmp_path)
    ef = solve_extensive(inst)
    bd = solve_benders(inst, tol=1e-6, max_iter=200)
    assert bd.converged
    assert bd.upper_bound == pytest.approx(ef.upper_bound, rel=1e-4)
    assert bd.lower_bound == pytest.approx(ef.upper_bound, rel=1e-4)
    # the plans agree where the optimum is unique enough to say so: total storage energy and charger capacity
    fs = inst.first
    e_bd, _, c_bd = fs.split(bd.x)
    e_ef, _, c_ef = fs.split(ef.x)
    assert e_bd.sum() == pytest.approx(e_ef.sum(), rel=1e-2, abs=1e-2)
    assert c_bd.sum() == pytest.approx(c_ef.sum(), rel=1e-2, abs=1e-3)
    assert ef.investment_eur > 0          # the case is not trivial: something is built


def test_binary_siting_bounds_and_lower_bound_monotone(small_case):
    data, tmp_path = small_case
    inst = instance_of(data, tmp_path)
    res = solve_benders(inst, tol=1e-5, max_iter=200)
    assert res.converged
    lbs = np.array([h.lower_bound for h in res.history if np.isfinite(h.lower_bound)])
    assert (np.diff(lbs) >= -1e-7 * np.abs(lbs[1:])).all()
    # the integer optimum is no better than the relaxed one, and it respects the site limit
    relaxed = solve_extensive(inst).upper_bound
    assert res.upper_bound >= relaxed * (1 - 1e-5)
    assert set(np.round(res.y, 6)) <= {0.0, 1.0} and res.y.sum() <= 1
    assert res.history[-1].gap <= 1e-5 and res.upper_bound >= res.lower_bound - 1e-6 * abs(res.upper_bound)


def test_single_cut_reaches_the_same_optimum(small_case):
    data, tmp_path = small_case
    data["storage"]["siting"] = "relaxed"
    inst = instance_of(data, tmp_path)
    multi = solve_benders(inst, tol=1e-6, max_iter=200)
    single = solve_benders(inst, tol=1e-6, max_iter=300, multicut=False, stabilisation="none")
    assert single.converged
    assert single.upper_bound == pytest.approx(multi.upper_bound, rel=1e-5)
