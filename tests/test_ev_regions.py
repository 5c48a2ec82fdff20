"""EV feasible sets and the station regions built from them: by hand, and against LPs on random fleets."""
import cvxpy as cp
import numpy as np
import pytest

from stochplan.ev.disaggregation import disaggregate
from stochplan.ev.fleet import fleet_of, interval_bounds
from stochplan.ev.regions import station_region
from stochplan.ev.sessions import Sessions, sample_sessions


def two_evs() -> Sessions:
    """A: plugged steps 1–3, needs and takes 0.5 MWh; B: plugged steps 1–2, needs nothing, takes up to 2."""
    return Sessions(arrival_h=np.array([0.0, 0.0]), departure_h=np.array([3.0, 2.0]), p_max_mw=np.array([1.0, 1.0]),
                    e_required_mwh=np.array([0.5, 0.0]), e_room_mwh=np.array([0.5, 2.0]),
                    controllable=np.array([True, True]))


def feasible(kind, fleet, p_ch, p_dis=None) -> bool:
    region = station_region(kind, fleet, cp.Constant(p_ch), None if p_dis is None else cp.Constant(p_dis))
    problem = cp.Problem(cp.Minimize(0), region.constraints)
    problem.solve(solver=cp.CLARABEL)
    return problem.status == cp.OPTIMAL


def test_two_evs_three_steps_by_hand():
    fleet = fleet_of(two_evs(), steps=3, dt_h=1.0, efficiency=1.0, v2g=False)
    np.testing.assert_allclose(fleet.e_lo, [[0, 0, 0, 0.5], [0, 0, 0, 0]])
    np.testing.assert_allclose(fleet.e_hi, [[0, 0.5, 0.5, 0.5], [0, 1, 2, 2]])
    s, t, lo, hi = interval_bounds(fleet)
    window = {(a, b): (x, y) for a, b, x, y in zip(s, t, lo, hi)}
    # steps 2–3: A can add at most its 0.5 MWh, B at most 1 MWh in step 2 (its power) → 1.5
    assert window[(1, 3)] == pytest.approx((0.0, 1.5))
    assert window[(0, 3)] == pytest.approx((0.5, 2.5))      # the envelope's own bounds at t = 3
    # 2 MW in step 2 and 0.5 in step 3 fits the envelope (G = 0, 2, 2.5 ≤ 0.5, 2.5, 2.5) but not the EVs
    schedule = np.array([0.0, 2.0, 0.5])
    assert feasible("envelope", fleet, schedule)
    assert not feasible("interval", fleet, schedule)
    assert not feasible("individual", fleet, schedule)
    split = disaggregate(fleet, schedule)
    assert split.tracking_nrmse > 0.05
    ok = np.array([0.0, 1.5, 0.0])                           # A 0.5 and B 1 in step 2
    assert all(feasible(k, fleet, ok) for k in ("envelope", "interval", "individual"))
    assert disaggregate(fleet, ok).tracking_nrmse < 1e-4


def random_fleet(n, steps, seed, v2g):
    rng = np.random.default_rng(seed)
    s = sample_sessions(n, rng, horizon_start_h=12.0, horizon_h=24.0, battery_kwh=40.0, charger_kw=7.0,
                        efficiency=0.9, target_soc=rng.uniform(0.6, 1.0), controllable_share=1.0)
    return fleet_of(s, steps, 24.0 / steps, 0.9, v2g)


@pytest.mark.parametrize("v2g", [False, True])
def test_individual_inside_interval_inside_envelope(v2g):
    """Support functions in random directions: h_individual ≤ h_interval ≤ h_envelope, and every aggregate of
    individually feasible schedules satisfies the interval rows."""
    fleet = random_fleet(6, 8, seed=3, v2g=v2g)
    s, t, lo, hi = interval_bounds(fleet)
    rng = np.random.default_rng(1)
    for _ in range(5):
        c = rng.normal(size=(2, fleet.steps))
        support = {}
        for kind in ("individual", "interval", "envelope"):
            p_ch, p_dis = cp.Variable(fleet.steps, nonneg=True), cp.Variable(fleet.steps, nonneg=True)
            region = station_region(kind, fleet, p_ch, p_dis)
            problem = cp.Problem(cp.Maximize(c[0] @ p_ch + c[1] @ p_dis), region.constraints)
            problem.solve(solver=cp.CLARABEL)
            assert problem.status == cp.OPTIMAL
            support[kind] = problem.value
            if kind == "individual":
                g = fleet.dt_h * (fleet.efficiency * p_ch.value - p_dis.value / fleet.efficiency)
                window = np.concatenate([[0.0], np.cumsum(g)])
                assert np.all(window[t] - window[s] >= lo - 1e-6) and np.all(window[t] - window[s] <= hi + 1e-6)
        assert support["individual"] <= support["interval"] + 1e-6 <= support["envelope"] + 2e-6


@pytest.mark.parametrize("v2g", [False, True])
def test_interval_bounds_are_each_evs_own_extremes(v2g):
    """For one EV, lo(s, t) and hi(s, t) equal the LP minimum and maximum of its energy over (s, t]."""
    fleet = random_fleet(1, 6, seed=11, v2g=v2g)
    s, t, lo, hi = interval_bounds(fleet)
    p_ch, p_dis = cp.Variable(fleet.steps, nonneg=True), cp.Variable(fleet.steps, nonneg=True)
    region = station_region("individual", fleet, p_ch, p_dis)
    energy = cp.hstack([0.0, region.ev_energy[0]])
    for a, b, low, high in zip(s, t, lo, hi):
        for sense, expected in ((cp.Maximize, high), (cp.Minimize, low)):
            problem = cp.Problem(sense(energy[b] - energy[a]), region.constraints)
            problem.solve(solver=cp.CLARABEL)
            assert problem.value == pytest.approx(expected, abs=1e-6), (a, b, sense.__name__)


def test_disaggregation_of_an_individual_dispatch_is_exact():
    fleet = random_fleet(20, 12, seed=5, v2g=False)
    p_ch = cp.Variable(fleet.steps, nonneg=True)
    region = station_region("individual", fleet, p_ch)
    prices = np.linspace(2.0, 1.0, fleet.steps)
    cp.Problem(cp.Minimize(prices @ p_ch), region.constraints + [p_ch <= 0.6 * fleet.p_max_mw.sum(0)]).solve(
        solver=cp.CLARABEL)
    split = disaggregate(fleet, p_ch.value)
    assert split.tracking_nrmse < 1e-5 and split.unmet_energy_mwh < 1e-6
    np.testing.assert_allclose(split.charge_mw.sum(0), p_ch.value, atol=1e-5)


def station_day_costs(tmp_path, **ev):
    """One 24-step day on a 3-bus feeder with a 10-EV station (chargers capped at 60 kW) under random hourly
    prices, which make the EVs' differing plug-in windows matter."""
    from conftest import base_case, instance_of, make_net, save_net
    from stochplan.formulations.operation import build_operation, solve_day

    net = make_net([(0, 1), (1, 2)], {1: (0.3, 0.1), 2: (0.3, 0.1)}, r_ohm=2.0, x_ohm=2.0)
    data = base_case(save_net(net, tmp_path / "net.json"), time={"steps_per_day": 24, "horizon_start_h": 12},
                     # random prices per step, written per clock hour (24 values are clock hours; the day
                     # starts at 12:00, so step t is hour t + 12)
                     prices={"buy_eur_per_mwh": list(np.roll(np.random.default_rng(2).uniform(20, 200, 24), 12)),
                             "sell_eur_per_mwh": [0.0]},
                     model={"formulation": "socp", "capacity_floor": 0.0, "ev_unmet_cost_eur_per_mwh": 1000.0},
                     chargers={"max_capacity_mw": 1.0, "stations": [{"bus": 2, "evs": 10}]},
                     ev={"controllable_share": 1.0, "charger_kw": 7.0, "target_soc": 0.9, **ev},
                     scenarios={"source": "synthetic", "count": 1, "seed": 4})
    inst = instance_of(data, tmp_path)
    sol = solve_day(build_operation(inst, inst.days[0]), np.array([0.06]))
    return sol, inst


def test_tighter_regions_cost_more_in_the_day_model(tmp_path):
    cost = {kind: station_day_costs(tmp_path, aggregation=kind)[0].cost_eur
            for kind in ("envelope", "interval", "individual")}
    assert cost["envelope"] <= cost["interval"] + 1e-3 <= cost["individual"] + 2e-3
    assert cost["individual"] - cost["envelope"] > 0.1       # here the envelope promises flexibility the EVs lack
    sol, inst = station_day_costs(tmp_path, aggregation="individual")
    fleet = inst.days[0].ev.fleets[0]
    split = disaggregate(fleet, sol.dispatch["ev_p_mw"][0])
    assert split.tracking_nrmse < 1e-4          # the individual model's aggregate is a sum of EV schedules


def test_reactive_support_never_costs_more(tmp_path):
    plain = station_day_costs(tmp_path, aggregation="interval")[0]
    support = station_day_costs(tmp_path, aggregation="interval", reactive_support=True)[0]
    assert support.cost_eur <= plain.cost_eur + 1e-3
    assert np.abs(plain.dispatch["ev_q_mvar"]).max() < 1e-7


def test_ev_aggregation_command(tmp_path):
    import pandas as pd

    from stochplan.cli import main
    from test_cli import write_case

    out = tmp_path / "agg"
    assert main(["ev-aggregation", str(write_case(tmp_path)), "--fleet-sizes", "4,12", "--out", str(out), "-q"]) == 0
    table = pd.read_csv(out / "aggregation.csv")
    assert list(table.columns[:6]) == ["model", "n_evs", "sessions", "tracking_nrmse", "unmet_energy_mwh",
                                       "build_s"]
    assert len(table) == 2 * 2 * 3 and (out / "aggregation.png").stat().st_size > 0
    exact = table[table.model == "individual"]
    assert (exact.tracking_nrmse < 1e-6).all()
    assert main(["ev-aggregation", "--fleet-sizes", "10,x", "-q"]) == 2


def test_uncoordinated_ignores_limits_smart_respects_them(tmp_path):
    """A 3-bus feeder whose evening peak leaves little voltage headroom for a 30-EV station at its end."""
    import pandas as pd

    from conftest import make_net, save_net
    from stochplan.cli import main

    net = make_net([(0, 1), (1, 2)], {1: (0.2, 0.05), 2: (0.2, 0.05)}, r_ohm=4.0, x_ohm=2.0)
    case = tmp_path / "case.toml"
    case.write_text(f"""
name = "tiny-strategies"
[network]
source = "{save_net(net, tmp_path / 'net.json')}"
v_min_pu = 0.97
v_max_pu = 1.03
[time]
steps_per_day = 24
horizon_start_h = 14
[prices]
buy_eur_per_mwh = [100.0]
[chargers]
max_capacity_mw = 1.0
[[chargers.stations]]
bus = 2
evs = 30
[ev]
charger_kw = 7.0
controllable_share = 1.0
[scenarios]
source = "synthetic"
count = 1
seed = 1
""")
    out = tmp_path / "strategies"
    assert main(["strategies", str(case), "--out", str(out), "-q"]) == 0
    table = pd.read_csv(out / "strategies.csv").set_index("strategy")
    assert list(table.index) == ["uncoordinated", "smart", "v2g", "smart+q", "v2g+q"]
    assert table.loc["uncoordinated", "voltage_violation_steps"] > 0
    assert table.loc["uncoordinated", "min_voltage_pu"] < 0.97 - 1e-3
    for name in ("smart", "v2g", "smart+q", "v2g+q"):
        assert table.loc[name, "voltage_violation_steps"] == 0, name      # AC power flow, not the model
        assert table.loc[name, "min_voltage_pu"] >= 0.97 - 1e-4
    # reactive support can only help the charging-time objective: the fleet is at least as full at the end
    assert table.loc["smart+q", "final_mean_soc"] >= table.loc["smart", "final_mean_soc"] - 1e-4
    for name in ("voltage_bands.png", "fleet_soc.png"):
        assert (out / name).stat().st_size > 0
