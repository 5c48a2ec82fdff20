"""Feeder conversion and the day model against pandapower's AC power flow and against each other."""
import logging
import os

import numpy as np
import pandapower as pp
import pytest

from conftest import base_case, instance_of, make_net, save_net
from stochplan.config import NetworkConfig, default_case_path, load_case
from stochplan.errors import InputError
from stochplan.formulations.operation import build_operation, solve_day
from stochplan.instance import build_instance
from stochplan.network import build_ref, load_net

logging.getLogger("pandapower").setLevel(logging.ERROR)


def ieee33_case(formulation="socp", load_scale=1.0):
    return base_case("pandapower:case33bw", time={"steps_per_day": 1}, prices={"buy_eur_per_mwh": [100.0]},
                     network={"source": "pandapower:case33bw", "default_max_i_ka": 0.4, "v_min_pu": 0.8,
                              "load_scale": load_scale},
                     model={"formulation": formulation, "capacity_floor": 0.0})


def test_ieee33_socp_matches_pandapower_runpp(tmp_path):
    net = load_net("pandapower:case33bw")
    pp.runpp(net)
    ac_losses_kw = net.res_line.pl_mw.sum() * 1e3
    assert ac_losses_kw == pytest.approx(202.7, rel=1e-3)          # the published figure for case33bw
    assert net.res_bus.vm_pu.min() == pytest.approx(0.9131, abs=1e-4)

    inst = instance_of(ieee33_case(), tmp_path)
    sol = solve_day(build_operation(inst, inst.days[0]), np.zeros(0))
    socp_losses_kw = (sol.dispatch["import_mw"][0] - inst.days[0].load_p_mw.sum()) * 1e3
    assert socp_losses_kw == pytest.approx(202.7, rel=0.01)
    assert sol.dispatch["v_pu"].min() == pytest.approx(0.9131, abs=0.002)
    # and bus by bus against the AC solution
    v_ac = net.res_bus.vm_pu.loc[inst.ref.bus_ids].to_numpy()
    assert np.abs(sol.dispatch["v_pu"][:, 0] - v_ac).max() < 1e-3
    assert sol.relaxation_gap < 1e-6


def test_socp_and_lindistflow_agree_without_losses(tmp_path):
    # At 0.1 % load, losses scale with load² (≈ 0.2 W, 5e-5 of the load): same cost and voltages.
    sols = {f: solve_day(build_operation(inst, inst.days[0]), np.zeros(0))
            for f in ("socp", "lindistflow") for inst in [instance_of(ieee33_case(f, 0.001), tmp_path)]}
    assert sols["socp"].cost_eur == pytest.approx(sols["lindistflow"].cost_eur, rel=1e-4)
    assert np.abs(sols["socp"].dispatch["v_pu"] - sols["lindistflow"].dispatch["v_pu"]).max() < 1e-4
    # At full load they differ by the cost of the losses (202.7 kW for 24 h at 100 EUR/MWh ≈ 486 EUR).
    full = {f: solve_day(build_operation(inst, inst.days[0]), np.zeros(0)).cost_eur
            for f in ("socp", "lindistflow") for inst in [instance_of(ieee33_case(f), tmp_path)]}
    assert full["socp"] - full["lindistflow"] == pytest.approx(0.2027 * 24 * 100, rel=0.02)


def test_day_model_is_dpp_on_the_default_case():
    inst = build_instance(load_case(default_case_path()))
    model = build_operation(inst, inst.days[0])
    assert model.problem.is_dcp(dpp=True)
    assert model.x_hat is not None and model.x_hat.shape == (inst.first.n_x,)


def test_copy_duals_are_subgradients(tmp_path):
    """g from the duals of z = x̂ satisfies Q(x') ≥ Q(x̂) + gᵀ(x' − x̂) and matches central differences."""
    inst = build_instance(load_case(default_case_path()))
    model = build_operation(inst, inst.days[0])
    x_hat = 0.4 * inst.first.x_max
    base = solve_day(model, x_hat)
    rng = np.random.default_rng(1)
    for _ in range(3):
        x_other = rng.uniform(0, 1, x_hat.size) * inst.first.x_max
        assert solve_day(model, x_other).cost_eur >= base.cost_eur + base.gradient @ (x_other - x_hat) - 1e-3
    # For a convex Q, a subgradient lies between the one-sided derivatives in every coordinate.
    h = 1e-3
    for i in (0, inst.first.n_storage, inst.first.n_x - 1):   # an energy, a power, a charger capacity
        step = h * np.eye(x_hat.size)[i]
        left = (base.cost_eur - solve_day(model, x_hat - step).cost_eur) / h
        right = (solve_day(model, x_hat + step).cost_eur - base.cost_eur) / h
        assert left - 0.5 <= base.gradient[i] <= right + 0.5
        assert right - left < 0.2 * abs(base.gradient[i]) + 1.0     # and the slopes are of the right size


def test_cigre_mv_is_radial_with_trafos_and_open_switches():
    ref = build_ref(load_net("pandapower:cigre_mv"), NetworkConfig(source="pandapower:cigre_mv"), "cigre")
    assert ref.n_bus == 15 and ref.n_line == 14                    # 3 lines dropped by open switches
    assert {"trafo 0", "trafo 1"} <= set(ref.branch_names)
    assert ref.load_p_pu.sum() == pytest.approx(44.742, rel=1e-4)  # MW on a 1 MVA base
    assert (ref.r_pu > 0).all() and (ref.x_pu > 0).all()


def test_missing_ratings_need_the_case_value():
    with pytest.raises(InputError, match="network.default_max_i_ka"):
        build_ref(load_net("pandapower:case33bw"), NetworkConfig(source="pandapower:case33bw"), "ieee33")


def test_meshed_feeder_is_rejected(tmp_path):
    net = make_net([(0, 1), (1, 2), (2, 3), (3, 1)], {2: (0.1, 0.0)})
    with pytest.raises(InputError, match="meshed"):
        instance_of(base_case(save_net(net, tmp_path / "m.json")), tmp_path)


def test_a_feeder_is_read_once_but_every_caller_gets_its_own_copy(tmp_path):
    """load_net caches the network it read (a plan needs it four times); one caller's change must not reach the
    next, and an edited file is read again."""
    first = load_net("pandapower:case33bw")
    first.line.drop(first.line.index[:5], inplace=True)
    assert len(load_net("pandapower:case33bw").line) == 37
    path = save_net(make_net([(0, 1), (1, 2)], {2: (0.1, 0.05)}), tmp_path / "feeder.json")
    assert len(load_net(path).line) == 2
    save_net(make_net([(0, 1), (1, 2), (2, 3)], {3: (0.1, 0.05)}), tmp_path / "feeder.json")
    os.utime(path, ns=(1, 1))                  # a different modification time, however coarse the file system's
    assert len(load_net(path).line) == 3


def test_one_model_shared_by_many_days_prices_each_day_as_its_own_model(monkeypatch):
    """From SHARED_FROM_DAYS days a process holds one model with the day data as Parameters: each day, in any
    order, must come out as from the day's own model (value, cut slope, dispatch)."""
    from dataclasses import replace

    from stochplan.formulations import operation
    from stochplan.formulations.operation import SHARED_FROM_DAYS, SHARED_FROM_DAYS_ONCE, DayModels

    inst = build_instance(load_case(default_case_path()), k=3)
    models = DayModels(inst, days_here=SHARED_FROM_DAYS)
    assert models.shared and not DayModels(inst, days_here=SHARED_FROM_DAYS - 1).shared
    assert DayModels(inst, SHARED_FROM_DAYS_ONCE, keep=False).shared       # each day solved once: pays sooner
    assert not DayModels(inst, SHARED_FROM_DAYS_ONCE - 1, keep=False).shared
    rng = np.random.default_rng(3)
    plans = [rng.uniform(0, 1, inst.first.n_x) * inst.first.x_max, np.zeros(inst.first.n_x)]
    for x in plans:
        for d in (2, 0, 1):
            own = solve_day(build_operation(inst, inst.days[d]), x, cut=True)
            got = solve_day(models(d), x, cut=True)
            assert got.day == own.day == inst.days[d].day
            assert got.value_eur == pytest.approx(own.value_eur, rel=1e-9)
            np.testing.assert_allclose(got.gradient, own.gradient, rtol=1e-6, atol=1e-3)
            np.testing.assert_allclose(got.dispatch["v_pu"], own.dispatch["v_pu"], atol=1e-9)
            np.testing.assert_allclose(got.dispatch["ev_p_mw"], own.dispatch["ev_p_mw"], atol=1e-7)
    assert len(models._models) == 1
    # per-EV and per-interval regions have rows that differ by day: never shared
    individual = replace(inst, options=replace(inst.options, ev=replace(inst.options.ev, aggregation="individual")))
    assert not DayModels(individual, days_here=365).shared
    # a feeder whose shared compile would be too large gets one model per day
    monkeypatch.setattr(operation, "SHARED_MAX_SIZE", 1e3)
    big = DayModels(inst, days_here=SHARED_FROM_DAYS)
    assert big(1).day is inst.days[1] and big(2).day is inst.days[2] and not big.shared


def test_a_kept_solver_gives_each_solve_the_answer_of_a_first_solve():
    """DayModels keep each model's Clarabel solver between solves (solvers/conic.KeptSolver). Its answer must not
    depend on the solves before it — else a day's cuts would differ between 1 and N ranks (days move when
    re-balanced) and in a resumed run: bit for bit, whatever came before; and within Clarabel's accuracy of a
    fresh setup."""
    from stochplan.formulations.operation import SHARED_FROM_DAYS, DayModels

    inst = build_instance(load_case(default_case_path()), k=3)
    rng = np.random.default_rng(5)
    plans = [rng.uniform(0, 1, inst.first.n_x) * inst.first.x_max for _ in range(3)]
    for days_here in (3, SHARED_FROM_DAYS):           # one model per day, one shared model
        before, alone = DayModels(inst, days_here), DayModels(inst, days_here)
        for x in plans[:2]:
            for d in (2, 0, 1):
                solve_day(before(d), x, cut=True)
        solve_day(before(0), plans[2], cut=False)        # an exact solve in between (other proximal weights)
        # the reference itself (day 0 — a shared model's reference day — at x = 0 priced for a cut), as the very
        # first solve and after others: held data set up and held data updated must not differ
        zero = np.zeros(inst.first.n_x)
        at_start, later = solve_day(alone(0), zero, cut=True), solve_day(before(0), zero, cut=True)
        assert at_start.value_eur == later.value_eur
        np.testing.assert_array_equal(at_start.gradient, later.gradient)
        for d in (1, 2):
            after, first = solve_day(before(d), plans[2], cut=True), solve_day(alone(d), plans[2], cut=True)
            assert after.value_eur == first.value_eur
            np.testing.assert_array_equal(after.gradient, first.gradient)
            np.testing.assert_array_equal(after.dispatch["v_pu"], first.dispatch["v_pu"])
            fresh = solve_day(build_operation(inst, inst.days[d]), plans[2], cut=True)
            assert first.value_eur == pytest.approx(fresh.value_eur, rel=1e-8)
            np.testing.assert_allclose(first.gradient, fresh.gradient, rtol=1e-5, atol=1e-3)
