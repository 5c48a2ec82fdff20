"""Tiny cases whose optimum is computed by hand in the test."""
import numpy as np
import pytest
from scipy.optimize import fsolve

from conftest import base_case, instance_of, make_net, save_net
from stochplan.decomposition import solve_benders
from stochplan.formulations.operation import build_operation, solve_day


def storage_case(source, **storage):
    """2 buses, 1 MW load, two 12-hour steps at 10 and 50 EUR/MWh, storage candidate at bus 1."""
    return base_case(source, storage={"candidates": [1], "max_energy_mwh": 24.0, "max_power_mw": 2.0,
                                      "loss_resistance_pu": 0.0, **storage})


def test_storage_arbitrage_by_hand(two_bus, tmp_path):
    # Charge 1 MW for 12 h at 10 EUR/MWh, discharge into the 1 MW load when it costs 50:
    # import = (2 MW, 0 MW) → 12 h · (10 · 2 + 50 · 0) = 240 EUR; without storage 12 · (10 + 50) = 720 EUR.
    inst = instance_of(storage_case(two_bus, siting="fixed", fixed_sites=[1]), tmp_path)
    model = build_operation(inst, inst.days[0])
    assert solve_day(model, np.array([12.0, 1.0])).cost_eur == pytest.approx(240.0, abs=0.01)
    assert solve_day(model, np.array([0.0, 0.0])).cost_eur == pytest.approx(720.0, abs=0.01)


def test_storage_efficiency_model_by_hand(two_bus, tmp_path):
    # η_c = η_d = 0.9, E = 12 MWh, P = 1 MW, window [0, 1]: the binding limit is the energy window.
    # Charge p_ch ≤ 1 MW stores 0.9 · 12 = 10.8 MWh; discharging it all gives 10.8 · 0.9 = 9.72 MWh = 0.81 MW
    # over 12 h.  Import = (1 + 1, 1 − 0.81) MW → 12 · (10 · 2 + 50 · 0.19) = 354 EUR.
    data = storage_case(two_bus, siting="fixed", fixed_sites=[1], efficiency_charge=0.9, efficiency_discharge=0.9)
    data["model"]["storage_model"] = "efficiency"
    inst = instance_of(data, tmp_path)
    cost = solve_day(build_operation(inst, inst.days[0]), np.array([12.0, 1.0])).cost_eur
    assert cost == pytest.approx(12 * (10 * 2 + 50 * (1 - 0.81)), abs=0.01)


def test_benders_sizes_storage_by_hand(two_bus, tmp_path):
    # CRF = 1 (rate 0, one year). Duration fixed at 12 h, so E = 12 P. Each MW of power saves
    # 365 · 12 · (50 − 10) = 175 200 EUR/year up to the 1 MW load, and costs 100 000 + 12 · 2 000 = 124 000:
    # build P = 1 MW, E = 12 MWh. Total = 365 · 240 + 124 000 + site 10 000 = 221 600 EUR/year.
    data = storage_case(two_bus, siting="binary", min_duration_h=12.0, max_duration_h=12.0,
                        power_cost_eur_per_mw=100_000.0, energy_cost_eur_per_mwh=2_000.0,
                        site_cost_eur=10_000.0, lifetime_years=1.0)
    data["investment"] = {"discount_rate": 0.0}
    del data["model"]["capacity_floor"]          # the default: no free capacity, the model as stated
    inst = instance_of(data, tmp_path)
    assert inst.case.model.capacity_floor == 0.0
    for stabilisation in ("level", "interior-level", "in-out", "none"):
        res = solve_benders(inst, tol=1e-6, stabilisation=stabilisation)
        assert res.converged, stabilisation
        assert res.upper_bound == pytest.approx(221_600.0, rel=1e-5)
        assert res.lower_bound == pytest.approx(221_600.0, rel=1e-5)
        # Clarabel stops at 1e-3 EUR/day (0.37 EUR/year a day): 221 600 ± 0.6 is as exact as it gets
        assert res.exactness["total_eur"] == pytest.approx(221_600.0, rel=5e-6)
        assert abs(res.exactness["upper_bound_difference"]) < 1e-9
        assert res.x == pytest.approx([12.0, 1.0], rel=1e-5)
        assert res.y == pytest.approx([1.0])


def test_socp_losses_match_the_exact_two_bus_power_flow(tmp_path):
    # One branch, load p at bus 1: P = p + r ℓ, Q = x ℓ, ℓ = (P² + Q²)/v0 with v0 = 1 — solved exactly here.
    net = make_net([(0, 1)], {1: (2.0, 0.0)}, vn_kv=10.0, r_ohm=2.0, x_ohm=3.0)
    data = base_case(save_net(net, tmp_path / "n.json"), time={"steps_per_day": 1},
                     prices={"buy_eur_per_mwh": [50.0]})
    data["model"]["formulation"] = "socp"
    inst = instance_of(data, tmp_path)
    r, x, p = inst.ref.r_pu[0], inst.ref.x_pu[0], 2.0
    P, Q, ell = fsolve(lambda z: [z[0] - p - r * z[2], z[1] - x * z[2], z[2] - z[0] ** 2 - z[1] ** 2], [p, 0, p * p])
    sol = solve_day(build_operation(inst, inst.days[0]), np.zeros(0))
    assert sol.dispatch["import_mw"][0] == pytest.approx(P, rel=1e-6)
    v1 = 1 - 2 * (r * P + x * Q) + (r * r + x * x) * ell
    assert sol.dispatch["v_pu"][1, 0] == pytest.approx(np.sqrt(v1), rel=1e-6)
    assert sol.relaxation_gap < 1e-6
