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
    assert e["net_benefit"] == pytest.approx(e["benefit_total"] - e["investment_total"], rel=1e-12)
    # operating benefits are the cost difference between the baseline and the plan, part by part
    base_ops = sum(e["baseline"]["operation_eur"].values())
    plan_ops = sum(e["plan"]["operation_eur"].values())
    assert base_ops - plan_ops == pytest.approx(e["benefit_total"] - e["benefits"]["deferred_upgrade"], rel=1e-9)
    assert plan_ops == pytest.approx(doc["objective"]["operation"] + doc["objective"]["penalty"], rel=1e-9)
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
    res = PlanResult("benders", x, np.zeros(1), 0.0, [solve_day(build_operation(inst, inst.days[0]), x)],
                     0, 0, 0, True, "gap")
    e = economics(inst, res, baseline_solutions(inst, res))
    assert all(v == pytest.approx(0.0, abs=1e-6) for v in e["benefits"].values())
    assert e["investment_total"] == 0 and e["return_on_investment"] is None
    assert e["carbon_reduction_percent"] == pytest.approx(0.0, abs=1e-9)


def test_study_writes_one_row_per_share(tmp_path):
    out = tmp_path / "study"
    assert main(["study", str(write_case(tmp_path)), "--controllable-share", "0.2,0.8", "--out", str(out), "-q"]) == 0
    import pandas as pd
    table = pd.read_csv(out / "study.csv")
    assert table.share.tolist() == [0.2, 0.8]
    assert {"storage_mwh_bus2", "storage_mw_bus2", "total_storage_mwh", "yearly_cost_eur",
            "carbon_reduction_percent", "pv_utilisation"} <= set(table.columns)
    assert table.converged.all() and (out / "study.png").stat().st_size > 0
    assert main(["study", str(write_case(tmp_path)), "--controllable-share", "0.2,1.5"]) == 2
