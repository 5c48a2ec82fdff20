"""The command line: outputs of a run, and one clear error per bad input before any solve."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import make_net, save_net
from stochplan.cli import main

SMALL_CASE = """
name = "cli-small"
[network]
source = "{source}"
v_min_pu = 0.9
[time]
steps_per_day = 4
horizon_start_h = 12
[model]
formulation = "socp"
[prices]
buy_eur_per_mwh = [60, 60, 60, 60, 60, 60, 90, 120, 120, 120, 100, 100, 100, 100, 100, 120, 220, 220, 220, 220, 220, 160, 90, 70]
sell_eur_per_mwh = [{sell}]
carbon_t_per_mwh = [0.4]
carbon_price_eur_per_t = 50.0
[[pv]]
bus = 2
capacity_mw = 0.5
[storage]
candidates = [{candidates}]
max_energy_mwh = 2.0
max_power_mw = 0.5
energy_cost_eur_per_mwh = {energy_cost}
power_cost_eur_per_mw = 80000.0
loss_resistance_pu = 0.03
[chargers]
max_capacity_mw = 0.2
cost_eur_per_mw = 100000.0
[[chargers.stations]]
bus = 2
evs = 8
[scenarios]
source = "synthetic"
count = 2
seed = 1
"""


def write_case(tmp_path, **fields):
    net = make_net([(0, 1), (1, 2)], {1: (0.4, 0.1), 2: (0.5, 0.1)}, max_i_ka=0.2)
    values = dict(source=save_net(net, tmp_path / "net.json"), sell="30.0", candidates="2",
                  energy_cost="150000.0")
    values.update(fields)
    path = tmp_path / "case.toml"
    path.write_text(SMALL_CASE.format(**values))
    return path


def test_plan_writes_the_contract(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["plan", str(write_case(tmp_path)), "--out", str(out), "--tol", "1e-5", "-q"]) == 0
    doc = json.loads((out / "results.json").read_text())
    assert doc["case"] == "cli-small" and doc["method"] == "benders"
    obj = doc["objective"]
    assert obj["total"] == pytest.approx(obj["investment"] + obj["operation"] + obj["penalty"], rel=1e-9)
    assert obj["currency"] == "EUR/year"
    assert doc["benders"]["converged"] and doc["benders"]["gap"] <= 1e-5
    assert doc["benders"]["upper_bound"] == pytest.approx(obj["total"], rel=1e-6)
    assert sum(s["weight"] for s in doc["scenarios"]) == pytest.approx(1.0)
    assert all(set(s) == {"bus", "energy_mwh", "power_mw"} for s in doc["storage"])
    assert doc["chargers"] and doc["chargers"][0]["bus"] == 2
    m = doc["metrics"]
    assert 0 <= m["max_relaxation_gap"] < 1e-5          # the SOCP relaxation is tight at this plan
    assert 0 < m["pv_utilisation"] <= 1 and m["carbon_t_per_year"] > 0
    conv = pd.read_csv(out / "convergence.csv")
    assert list(conv.columns[:6]) == ["iteration", "lower_bound", "upper_bound", "gap", "master_s", "subproblems_s"]
    assert len(conv) == doc["benders"]["iterations"] + 1
    for name in ("dispatch_grid.csv", "dispatch_devices.csv", "voltages.csv", "validation.csv", "summary.md",
                 "convergence.png", "feeder_map.png", "voltage_bands.png", "line_loading.png", "line_flows.png",
                 "storage_energy.png", "ev_stations.png"):
        assert (out / name).stat().st_size > 0, name
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]   # no temp dirs left behind
    # one candidate: two sitings, the plan's and none; the other one's bound is in the summary too
    bounds = doc["benders"]["siting_bounds"]
    assert sorted(row["storage_buses"] for row in bounds) == [[], [2]] and sum(row["chosen"] for row in bounds) == 1
    other = next(row for row in bounds if not row["chosen"])
    assert other["lower_bound"] >= doc["benders"]["upper_bound"] * (1 - 1e-5)
    summary = (out / "summary.md").read_text()
    assert "## Other storage sitings" in summary and f"{other['lower_bound']:,.0f}" in summary


def test_extensive_form_from_the_cli(tmp_path, capsys):
    out_b, out_e = tmp_path / "b", tmp_path / "e"
    case = str(write_case(tmp_path))
    assert main(["plan", case, "--out", str(out_b), "--tol", "1e-6", "-q"]) == 0
    assert main(["plan", case, "--out", str(out_e), "--method", "ef", "-q"]) == 0
    b = json.loads((out_b / "results.json").read_text())
    e = json.loads((out_e / "results.json").read_text())
    # binary siting: the EF is exact by branch-and-bound over the sites
    assert e["method"] == "ef" and e["model"]["siting"] == "binary" and e["extensive_form"]["nodes"] >= 1
    assert b["objective"]["total"] == pytest.approx(e["objective"]["total"], rel=1e-4)
    # a case file may choose the method (plan.method): the EF without --method, its limits named by that key
    ef_case = tmp_path / "ef_case.toml"
    ef_case.write_text(Path(case).read_text() + '\n[plan]\nmethod = "ef"\n')
    assert main(["plan", str(ef_case), "--out", str(tmp_path / "k"), "-q"]) == 0
    k = json.loads((tmp_path / "k" / "results.json").read_text())
    assert k["method"] == "ef" and k["objective"]["total"] == pytest.approx(e["objective"]["total"], rel=1e-12)
    capsys.readouterr()
    assert main(["plan", str(ef_case), "--out", str(tmp_path / "s"), "--stop-after", "1"]) == 2
    assert capsys.readouterr().err.strip() == ("stochplan: error: --stop-after: applies to Benders runs, not the "
                                               "extensive form (plan.method = ef) (or pass --method benders)")
    assert not (tmp_path / "s").exists()


BAD_INPUTS = [
    ("missing file", lambda p: p.parent / "nope.toml", "CASE: file"),
    ("malformed TOML", lambda p: (p.write_text("name = [unclosed"), p)[1], "not valid TOML"),
    ("unknown bus", lambda p: write_case(p.parent, candidates="7"), "storage.candidates[0]: bus 7"),
    ("negative cost", lambda p: write_case(p.parent, energy_cost="-5.0"), "storage.energy_cost_eur_per_mwh"),
    ("NaN in a profile", lambda p: write_case(p.parent, sell="nan"), "prices.sell_eur_per_mwh[0]"),
    ("a margin without a warm start",
     lambda p: (p.write_text(write_case(p.parent).read_text() + "\n[benders]\nwarm_start_within = 0.01\n"), p)[1],
     "benders.warm_start_within: prices other sitings of the warm start's reduced problem: set "
     "benders.warm_start_days too"),
]


@pytest.mark.parametrize("label,make,field", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_one_line_exit_2(tmp_path, capsys, label, make, field):
    path = make(tmp_path / "case.toml")
    out = tmp_path / "out"
    assert main(["plan", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and field in err[0], err
    assert "Traceback" not in err[0]
    assert not out.exists()


def test_meshed_feeder_from_the_cli(tmp_path, capsys):
    net = make_net([(0, 1), (1, 2), (2, 0)], {2: (0.1, 0.0)})
    path = write_case(tmp_path, source=save_net(net, tmp_path / "mesh.json"))
    assert main(["plan", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "network.source: feeder is meshed" in err and not (tmp_path / "out").exists()


def test_entry_point_exit_code_and_no_traceback(tmp_path):
    """The installed console script, as a user runs it."""
    proc = subprocess.run([sys.executable, "-m", "stochplan", "plan", str(tmp_path / "missing.toml")],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"stochplan: error: CASE: file '{tmp_path / 'missing.toml'}' not found"


@pytest.mark.parametrize("extra,says", [(["--workers", "0"], "--workers: must be ≥ 1, got 0"),
                                        (["--workers", "-1"], "--workers: must be ≥ 1, got -1")])
def test_bad_workers_option_exit_2(tmp_path, capsys, extra, says):
    out = tmp_path / "out"
    assert main(["plan", str(write_case(tmp_path)), "--out", str(out), *extra]) == 2
    assert says in capsys.readouterr().err and not out.exists()


def test_resume_without_a_checkpoint_is_an_input_error(tmp_path, capsys):
    assert main(["plan", str(write_case(tmp_path)), "--resume", str(tmp_path / "nowhere")]) == 2
    assert "--resume: no checkpoint.json in" in capsys.readouterr().err


def test_voltage_bands_quantiles_weigh_the_days_by_their_share_of_the_year():
    from stochplan.report.plots import weighted_quantiles

    samples = np.array([[1.0, 2.0, 3.0, 4.0], [4.0, 3.0, 2.0, 1.0]])
    equal = weighted_quantiles(samples, np.ones(4), [0.05, 0.5, 0.95])
    np.testing.assert_array_equal(equal, [[1, 1], [2, 2], [4, 4]])
    heavy_last = weighted_quantiles(samples, np.array([1.0, 1.0, 1.0, 97.0]), [0.05, 0.5])
    np.testing.assert_array_equal(heavy_last, [[4, 1], [4, 1]])     # the heavy sample is 4 in row 0, 1 in row 1


@pytest.mark.parametrize("warm", [0, 1])
def test_work_done_in_helper_processes_gives_the_files_of_one_process(tmp_path, monkeypatch, warm):
    """A single process forks helpers (parallel/helper.py): the baseline's days while Benders runs, half of the
    figures while it writes the tables. The same files, the same bytes and economics, as when one process does
    it all (an MPI rank never forks). With a warm start and no helper, the forked workers solve the baseline's
    days while rank 0 computes it (the spare work an MPI rank does)."""
    from stochplan.parallel import helper

    case = write_case(tmp_path)
    case.write_text(case.read_text() + f"\n[benders]\nwarm_start_days = {warm}\n")
    case = str(case)
    for name, forked in (("forked", True), ("alone", False)):
        monkeypatch.setattr(helper, "helper_available", lambda forked=forked: forked)
        assert main(["plan", case, "--out", str(tmp_path / name), "--tol", "1e-5", "-q"]) == 0
    forked, alone = (sorted(p.name for p in (tmp_path / n).iterdir()) for n in ("forked", "alone"))
    assert forked == alone and "feeder_map.png" in forked and "voltage_bands.png" in forked
    for name in forked:
        if name.endswith((".png", ".csv", ".md")) and name != "convergence.csv":   # that one has the timings
            assert (tmp_path / "forked" / name).read_bytes() == (tmp_path / "alone" / name).read_bytes(), name
    docs = [json.loads((tmp_path / n / "results.json").read_text()) for n in ("forked", "alone")]
    assert docs[0]["economics"] == docs[1]["economics"] and docs[0]["economics"]["baseline"]["operation_eur"]["energy"] > 0


@pytest.mark.parametrize("forked", [True, False])
def test_a_failed_baseline_solve_is_reported_with_its_status_and_nothing_is_written(tmp_path, monkeypatch, capsys,
                                                                                   forked):
    from stochplan.errors import SolverError
    from stochplan.parallel import helper
    from stochplan.workflows.economics import BaselineDays

    def fail(self, d):
        raise SolverError("day model", "infeasible", "after retries with stronger numerics")

    monkeypatch.setattr(BaselineDays, "solve", fail)
    monkeypatch.setattr(helper, "helper_available", lambda: forked)
    out = tmp_path / "out"
    case = write_case(tmp_path)       # with a warm start: without a helper the days are Benders' spare work
    case.write_text(case.read_text() + "\n[benders]\nwarm_start_days = 1\n")
    assert main(["plan", str(case), "--out", str(out), "-q"]) == 3
    err = capsys.readouterr().err
    assert "solver failure: business-as-usual baseline, day" in err and "infeasible" in err
    assert not (out / "results.json").exists()
