"""The same case in mpi-sppy: the Pyomo day equals the cvxpy day at a plan, and mpi-sppy's extensive form
(HiGHS MILP) reaches stochplan's exact optimum."""
import tomllib
from pathlib import Path

import numpy as np
import pyomo.environ as pyo
import pytest
from mpisppy.utils import sputils

from stochplan.config import case_from_dict, load_case
from stochplan.errors import InputError
from stochplan.formulations.operation import build_operation, solve_day
from stochplan.instance import build_instance
from stochplan.interop import mpisppy as sp

CASE = Path(__file__).parents[1] / "scenarios" / "ieee33_lindistflow.toml"


def lindistflow_with_ev(tmp_path, **ev):
    """The shipped LinDistFlow siting case, two days, with a 40-EV station at bus 24 (smart charging)."""
    data = tomllib.loads(CASE.read_text())
    data["scenarios"]["count"] = 2
    data["chargers"] = {"max_capacity_mw": 0.5, "cost_eur_per_mw": 150000.0,
                        "stations": [{"bus": 24, "evs": 40}]}
    data["ev"] = {"controllable_share": 0.6, **ev}
    return build_instance(case_from_dict(data, tmp_path / "case.toml"))


@pytest.mark.parametrize("v2g", [False, True])
def test_pyomo_day_equals_the_cvxpy_day_at_a_plan(tmp_path, v2g):
    inst = lindistflow_with_ev(tmp_path, v2g=v2g)
    fs = inst.first
    x, y = np.zeros(fs.n_x), np.zeros(fs.n_storage)
    x[[1, 7]], y[1] = (2.0, 0.8), 1.0             # 2 MWh / 0.8 MW at bus 17
    x[[4, 10]], y[4] = (1.5, 0.5), 1.0            # 1.5 MWh / 0.5 MW at bus 30
    x[-1] = 0.08                                  # 80 kW of chargers: some EV energy is left undelivered
    for day in inst.days:
        m = sp.day_model(inst, day)
        sp.fix_first_stage(m, x, y)
        sp.solve_highs(m)
        cvxpy_day = solve_day(build_operation(inst, day), x)
        assert cvxpy_day.parts_eur["penalty"] > 1.0          # the EV part of the model is exercised
        assert pyo.value(m.day_cost) == pytest.approx(cvxpy_day.cost_eur, rel=1e-6)


def test_mpisppy_extensive_form_reaches_the_exact_optimum():
    """stochplan's exact EF (branch-and-bound over the sites, Clarabel) on this case: 7 297 686.49 EUR/year at
    sites 12, 24, 30 (tests/test_benders.py checks Benders against it)."""
    inst = build_instance(load_case(CASE))
    names = sp.scenario_names_creator(len(inst.days))
    ef = sputils.create_EF(names, sp.scenario_creator, scenario_creator_kwargs={"instance": inst})
    sp.solve_highs(ef, mip_rel_gap=1e-9)
    x, y = sp.first_stage_values(getattr(ef, names[0]))
    assert pyo.value(ef.EF_Obj) == pytest.approx(7_297_686.49, rel=1e-6)
    assert [b for b, v in zip(inst.first.storage_buses, y) if v > 0.5] == [12, 24, 30]


def test_scenarios_follow_mpisppy_conventions():
    assert sp.scenario_names_creator(3, start=2) == ["day2", "day3", "day4"]
    assert sp.kw_creator({"case": str(CASE), "k": None}) == {"case": str(CASE), "k": None}
    model = sp.scenario_creator("day1", case=str(CASE))
    inst = build_instance(load_case(CASE))
    assert model._mpisppy_probability == pytest.approx(inst.days[1].weight)
    assert len(model._mpisppy_node_list[0].nonant_vardata_list) == inst.first.n_storage + inst.first.n_x
    with pytest.raises(InputError, match="scenario_name"):
        sp.scenario_creator("day9", case=str(CASE))


def test_a_conic_case_is_refused_with_the_reason(tmp_path):
    data = tomllib.loads(CASE.read_text())
    data["model"]["formulation"] = "socp"
    inst = build_instance(case_from_dict(data, tmp_path / "case.toml"))
    with pytest.raises(InputError, match="model.formulation: is 'socp': the SOC relaxation needs a conic solver"):
        sp.day_model(inst, inst.days[0])
