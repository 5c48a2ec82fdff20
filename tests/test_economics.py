"""Economics and carbon against the baseline: identities that must hold for any plan."""
import json

import numpy as np
import pytest
from conftest import base_case, instance_of, make_net, save_net
from test_cli import write_case

from stochplan.cli import main
from stochplan.formulations.operation import build_operation, solve_day
from stochplan.result import PlanResult
from stochplan.workflows.economics import baseline_solutions, economics


def test_benefit_parts_add_up(tmp_path):
    out = tmp_path / "out"
    case = write_case(tmp_path)
    case.write_text(case.read_text() + "\n[economics]\nupgrade_cost_eur_per_mw_year = 50000.0\n")
    assert main(["plan", str(case), "--out", str(out), "-q", "--no-validate"]) == 0
    doc = json.loads((out / "results.json").read_text())
    e = doc["economics"]
    assert sum(e["benefits"].values()) == pytest.approx(e["benefit_total"], rel=1e-12)
    assert sum(e["investment"].values()) == pytest.approx(e["investment_total"], rel=1e-12)
    assert e["investment_total"] == pytest.approx(doc["objective"]["investment"], rel=1e-9)
    storage = e["investment_total"] - e["investment"]["chargers"]
    assert e["storage_investment"] == pytest.approx(storage, rel=1e-12)
    assert e["net_benefit"] == pytest.approx(e["benefit_total"] + e["penalty_difference"] - storage, rel=1e-12)
    # operating benefits and the penalty difference are the cost difference between the baseline and the plan
    base_ops = sum(e["baseline"]["operation_eur"].values())
    plan_ops = sum(e["plan"]["operation_eur"].values())
    operating = e["benefit_total"] - e["benefits"]["deferred_upgrade"] - e["benefits"]["avoided_charger_investment"]
    assert base_ops - plan_ops == pytest.approx(operating + e["penalty_difference"], rel=1e-9)
    assert plan_ops == pytest.approx(doc["objective"]["operation"] + doc["objective"]["penalty"], rel=1e-9)
    # the net benefit is the difference of the two yearly totals, chargers included on both sides
    base_total = e["baseline_investment"]["chargers"] + base_ops
    assert base_total - doc["objective"]["total"] + e["benefits"]["deferred_upgrade"] == pytest.approx(
        e["net_benefit"], rel=1e-9)
    md = (out / "summary.md").read_text()
    assert "net benefit" in md and f"{e['net_benefit']:,.0f}" in md


def test_no_assets_no_benefit(tmp_path):
    net = save_net(make_net([(0, 1), (1, 2)], {1: (0.4, 0.1), 2: (0.5, 0.1)}, max_i_ka=0.2), tmp_path / "n.json")
    data = base_case(net, time={"steps_per_day": 4}, prices={"buy_eur_per_mwh": [80.0, 60.0, 120.0, 200.0]},
                     storage={"candidates": [2], "max_energy_mwh": 2.0, "max_power_mw": 0.5},
                     chargers={"max_capacity_mw": 0.2, "stations": [{"bus": 1, "evs": 10}]},
                     ev={"controllable_share": 0.0},
                     scenarios={"source": "explicit", "day": [{"weight": 1.0, "load_scale": [0.6, 0.5, 0.9, 1.0]}]})
    data["model"]["formulation"] = "socp"
    inst = instance_of(data, tmp_path)
    x = np.zeros(inst.first.n_x)
    baseline = baseline_solutions(inst)
    # the business-as-usual plan itself: no storage, uncontrolled EVs, the baseline's own chargers
    x[-1] = baseline.charger_mw[0]
    res = PlanResult("benders", x, np.zeros(1), float(inst.first.cost_x @ x),
                     [solve_day(build_operation(inst, inst.days[0]), x)], 0, 0, 0, True, "gap")
    e = economics(inst, res, baseline)
    # the baseline has no storage in its model, the plan zero-capacity storage: equal to the solver's tolerance
    # (Clarabel's 1e-8 gap in units of 100 kEUR: 1e-3 EUR a day, 0.365 EUR a year — measured 0.003–0.011 per
    # part; a storage asset worth anything would show in hundreds of euros)
    solver_tol = 365 * 1e-3
    assert all(v == pytest.approx(0.0, abs=solver_tol) for v in e["benefits"].values())
    assert e["penalty_difference"] == pytest.approx(0.0, abs=solver_tol)
    assert e["storage_investment"] == 0 and e["return_on_investment"] is None
    assert e["carbon_reduction_percent"] == pytest.approx(0.0, abs=1e-9)


def test_baseline_serves_every_ev_with_chargers_sized_for_them(tmp_path):
    """Business as usual buys the chargers its uncontrolled fleet needs: no EV energy is left undelivered."""
    net = save_net(make_net([(0, 1), (1, 2)], {1: (0.4, 0.1), 2: (0.5, 0.1)}, max_i_ka=0.2), tmp_path / "n.json")
    data = base_case(net, time={"steps_per_day": 24, "horizon_start_h": 12},
                     prices={"buy_eur_per_mwh": [80.0] * 12 + [200.0] * 12},
                     chargers={"max_capacity_mw": 0.02, "cost_eur_per_mw": 1e5, "stations": [{"bus": 2, "evs": 30}]},
                     ev={"controllable_share": 0.8},
                     scenarios={"source": "synthetic", "count": 2, "seed": 3})
    inst = instance_of(data, tmp_path)
    x = np.zeros(inst.first.n_x)
    x[-1] = inst.first.x_max[-1]           # the plan's 20 kW cannot serve 30 EVs charging at once
    res = PlanResult("benders", x, np.zeros(0), float(inst.first.cost_x @ x),
                     [solve_day(build_operation(inst, d), x) for d in inst.days], 0, 0, 0, True, "gap")
    baseline = baseline_solutions(inst)
    fleet_mwh = sum(d.ev.energy_required_mwh.sum() * d.weight for d in inst.days) * 365
    e = economics(inst, res, baseline)
    assert baseline.charger_mw[0] > 0.02
    assert e["baseline"]["ev_unmet_mwh_per_year"] <= 1e-6 * fleet_mwh
    assert e["benefits"]["avoided_charger_investment"] == pytest.approx(
        inst.first.cost_x[-1] * (baseline.charger_mw[0] - 0.02), rel=1e-9)
    assert e["penalty_difference"] < 0             # the plan's undersized chargers leave energy undelivered


def test_study_writes_one_row_per_share(tmp_path):
    out = tmp_path / "study"
    assert main(["study", str(write_case(tmp_path)), "--controllable-share", "0.2,0.8", "--out", str(out), "-q",
                 "--workers", "1"]) == 0
    import pandas as pd
    table = pd.read_csv(out / "study.csv")
    assert table.share.tolist() == [0.2, 0.8]
    assert {"storage_mwh_bus2", "storage_mw_bus2", "total_storage_mwh", "yearly_cost_eur",
            "carbon_reduction_percent", "pv_utilisation"} <= set(table.columns)
    assert table.converged.all() and (out / "study.png").stat().st_size > 0
    assert main(["study", str(write_case(tmp_path)), "--controllable-share", "0.2,1.5"]) == 2
    # each plan priced on two forked workers (parallel/workers.py): the same table, bit for bit
    assert main(["study", str(write_case(tmp_path)), "--controllable-share", "0.2,0.8", "--out",
                 str(tmp_path / "two"), "-q", "--workers", "2"]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "two" / "study.csv"), table, check_exact=True)


def v2g_day(tmp_path, evening_eur_per_mwh: float):
    """30 controllable V2G EVs (plugged in ≈ 17:00 → 07:30) on a lossless feeder; energy at 50 EUR/MWh except
    17:00–22:00 (per clock hour; the day runs 12:00 → 12:00)."""
    net = save_net(make_net([(0, 1), (1, 2)], {1: (0.2, 0.05), 2: (0.2, 0.05)}), tmp_path / "n.json")
    prices = [50.0] * 17 + [evening_eur_per_mwh] * 5 + [50.0] * 2
    data = base_case(net, time={"steps_per_day": 24, "horizon_start_h": 12},
                     prices={"buy_eur_per_mwh": prices, "sell_eur_per_mwh": [0.0]},
                     chargers={"max_capacity_mw": 1.0, "stations": [{"bus": 2, "evs": 30}]},
                     ev={"controllable_share": 1.0, "v2g": True, "efficiency": 0.9, "target_soc": 0.9},
                     scenarios={"source": "synthetic", "count": 1, "seed": 5})
    inst = instance_of(data, tmp_path)
    x = np.full(inst.first.n_x, 1.0)
    day = inst.days[0]
    return day, solve_day(build_operation(inst, day), x).dispatch, np.asarray(prices)


def test_v2g_discharges_only_when_the_spread_pays_for_the_round_trip(tmp_path):
    """η = 0.9 each way: 1 MWh bought at night returns 0.81 MWh, so discharging pays above 50 / 0.81 = 61.7."""
    day, d, prices = v2g_day(tmp_path, evening_eur_per_mwh=300.0)
    hours = day.clock_h.astype(int) % 24
    sent = d["ev_discharge_mw"].sum(0)
    assert sent.sum() * day.dt_h > 0.05                              # MWh to the grid on an evening peak
    assert np.all(prices[hours[sent > 1e-4]] == 300.0)               # and only in the expensive hours
    _, d, _ = v2g_day(tmp_path, evening_eur_per_mwh=60.0)            # a spread below the round-trip loss
    assert d["ev_discharge_mw"].sum() * day.dt_h < 1e-4                # 0.1 kWh: interior-point residue


def test_the_pv_case_baseline_curtails():
    """scenarios/ieee33_pv.toml: more PV than the feeder uses at noon behind a 0.3 MW export limit."""
    from pathlib import Path

    from stochplan.config import load_case
    from stochplan.instance import build_instance
    from stochplan.result import yearly

    inst = build_instance(load_case(Path(__file__).parents[1] / "scenarios" / "ieee33_pv.toml"))
    baseline = yearly(inst, baseline_solutions(inst).solutions)
    assert 0.7 < baseline["pv_utilisation"] < 0.9
    assert baseline["ev_unmet_mwh_per_year"] < 1e-3
