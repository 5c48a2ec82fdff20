"""The AC power-flow check of planned dispatch (pandapower runpp on every step)."""
import json

import numpy as np
import pandas as pd
import pytest
from conftest import base_case, instance_of
from test_cli import write_case

from stochplan.cli import main
from stochplan.formulations.operation import build_operation, solve_day
from stochplan.report.validation import summary
from stochplan.result import PlanResult
from stochplan.workflows.validation import validate_plan


def test_base_case_without_der_reproduces_pandapower(tmp_path):
    data = base_case("pandapower:case33bw", time={"steps_per_day": 2}, prices={"buy_eur_per_mwh": [100.0]},
                     network={"source": "pandapower:case33bw", "default_max_i_ka": 0.4, "v_min_pu": 0.8},
                     model={"formulation": "socp", "capacity_floor": 0.0},
                     scenarios={"source": "explicit", "day": [{"weight": 1.0, "load_scale": [1.0, 0.6]}]})
    inst = instance_of(data, tmp_path)
    sol = solve_day(build_operation(inst, inst.days[0]), np.zeros(0))
    res = PlanResult("benders", np.zeros(0), np.zeros(0), 0.0, [sol], 0, 0, 0, True, "gap")
    table = validate_plan(inst, res.solutions)
    assert len(table) == 2 and table.converged.all()
    assert table.max_dv_pu.max() < 1e-6
    assert table.losses_ac_mw.iloc[0] == pytest.approx(0.2027, rel=1e-3)
    assert (table.losses_ac_mw - table.losses_model_mw).abs().max() < 1e-6
    assert table.v_min_ac_pu.iloc[0] == pytest.approx(0.9131, abs=1e-4)
    assert summary(table)["ac_violations"] == 0


def test_plan_with_storage_and_pv_stays_close_to_ac(tmp_path):
    out = tmp_path / "out"
    assert main(["plan", str(write_case(tmp_path)), "--out", str(out), "-q"]) == 0
    doc = json.loads((out / "results.json").read_text())
    assert doc["storage"], "the case should build storage for this check to mean something"
    m = doc["metrics"]
    assert m["ac_steps"] == 8 and m["ac_nonconverged_steps"] == 0
    assert m["ac_max_voltage_diff_pu"] < 0.005
    assert (out / "validation.csv").stat().st_size > 0
    assert main(["plan", str(write_case(tmp_path)), "--out", str(tmp_path / "nv"), "--no-validate", "-q"]) == 0
    assert not (tmp_path / "nv" / "validation.csv").exists()


def test_validate_command_reproduces_the_plans_check(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["plan", str(write_case(tmp_path)), "--out", str(out), "-q"]) == 0
    at_plan = pd.read_csv(out / "validation.csv")
    (out / "validation.csv").unlink()
    assert main(["validate", str(out), "-q"]) == 0
    again = pd.read_csv(out / "validation.csv")
    assert list(again.columns) == list(at_plan.columns) and len(again) == len(at_plan)
    np.testing.assert_allclose(again.v_min_ac_pu, at_plan.v_min_ac_pu, atol=1e-6)
    np.testing.assert_allclose(again.losses_ac_mw, at_plan.losses_ac_mw, atol=1e-6)
    assert json.loads((out / "results.json").read_text())["metrics"]["ac_steps"] == len(again)
    assert main(["validate", str(tmp_path / "nowhere"), "-q"]) == 2
    assert "results.json' not found" in capsys.readouterr().err
