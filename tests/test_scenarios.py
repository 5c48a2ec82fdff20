"""A year of profiles, K-Medoids reduction, session records and out-of-sample evaluation."""
import json

import numpy as np
import pandas as pd
import pytest

from conftest import make_net, save_net
from stochplan.cli import main
from stochplan.errors import InputError
from stochplan.ev.sessions import read_sessions_csv
from stochplan.scenarios.profiles import csv_profiles, resample, simbench_profiles
from stochplan.scenarios.reduction import features, reduce_days


# ------------------------------------------------------------------ reduction

def test_three_obvious_clusters_are_recovered():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    truth = np.repeat([0, 1, 2], [20, 30, 50])
    x = centres[truth] + rng.normal(0, 0.5, size=(100, 2))
    red = reduce_days(x, 3, seed=1)
    # same partition as the truth (up to naming), weights = shares, medoids inside their clusters
    pairs = {(t, l) for t, l in zip(truth, red.labels)}
    assert len(pairs) == 3
    assert sorted(red.weights) == pytest.approx([0.2, 0.3, 0.5])
    assert all(truth[m] == truth[red.labels == c][0] for c, m in enumerate(red.medoids))
    assert 0 < red.mean_distance < red.max_distance < 0.5


def test_reduction_is_deterministic_and_weights_sum_to_one():
    x = np.random.default_rng(3).normal(size=(60, 5))
    a, b = reduce_days(x, 7, seed=11), reduce_days(x, 7, seed=11)
    assert np.array_equal(a.medoids, b.medoids) and np.array_equal(a.labels, b.labels)
    assert a.weights.sum() == pytest.approx(1.0)
    assert (np.diff(a.medoids) > 0).all()                       # chronological
    assert a.cluster_sizes.sum() == 60


def test_k_equal_to_the_number_of_days_returns_every_day():
    x = np.random.default_rng(4).normal(size=(9, 3))
    red = reduce_days(x, 9)
    assert red.medoids.tolist() == list(range(9)) and red.weights == pytest.approx(np.full(9, 1 / 9))
    assert red.mean_distance == 0.0
    with pytest.raises(InputError, match="scenarios.k"):
        reduce_days(x, 10)


def test_constant_feature_blocks_are_dropped():
    varying = np.arange(12.0).reshape(4, 3)
    assert features([varying, np.ones((4, 5))]).shape == (4, 3)


def test_missing_optional_backend_says_why():
    try:
        import sklearn_extra  # noqa: F401
        pytest.skip("scikit-learn-extra imports here")
    except Exception:
        pass
    with pytest.raises(InputError, match="scenarios.backend: scikit-learn-extra does not import"):
        reduce_days(np.random.default_rng(0).normal(size=(10, 2)), 3, backend="sklearn_extra")


# ------------------------------------------------------------------ profiles

def write_profiles(path, days=4, step_min=60):
    index = pd.date_range("2016-03-01", periods=days * 24 * 60 // step_min, freq=f"{step_min}min")
    hour = index.hour + index.minute / 60
    day = np.arange(len(index)) // (24 * 60 // step_min)
    load = 0.5 + 0.4 * np.exp(-0.5 * ((hour - 19) / 2.5) ** 2) * (1 + 0.3 * (day % 2))
    pv = np.clip(np.sin(np.pi * (hour - 6) / 14), 0, None) * (0.4 + 0.15 * day)
    pd.DataFrame({"time": index.strftime("%Y-%m-%d %H:%M"), "H0 [pu]": load, "PV [pu]": pv}).to_csv(path, index=False)
    return path


def test_csv_profiles_round_trip_and_energy_preserving_resampling(tmp_path):
    table = csv_profiles(write_profiles(tmp_path / "p.csv", step_min=15))
    assert list(table.columns) == ["H0", "PV"] and len(table) == 4 * 96
    hourly = resample(table, 24)
    assert len(hourly) == 96
    assert hourly.sum().to_numpy() * 1.0 == pytest.approx(table.sum().to_numpy() * 0.25)   # MWh preserved
    with pytest.raises(InputError, match="steps_per_day"):
        resample(hourly, 96)


@pytest.mark.parametrize("edit,where", [
    (lambda t: t.assign(**{"H0 [pu]": t["H0 [pu]"].where(t.index != 5)}), "column H0 [pu], row 7"),
    (lambda t: t.assign(**{"PV [pu]": t["PV [pu]"].where(t.index != 9, -1.0)}), "column PV [pu], row 11"),
    (lambda t: t.drop(index=30), "column time, row"),
    (lambda t: t.rename(columns={"PV [pu]": "PV"}), "column PV"),
    (lambda t: t.iloc[:50], "whole days"),
], ids=["nan", "negative", "gap", "no unit", "partial day"])
def test_csv_profile_errors_name_file_column_row(tmp_path, edit, where):
    path = write_profiles(tmp_path / "p.csv")
    edit(pd.read_csv(path)).to_csv(path, index=False)
    with pytest.raises(InputError, match="profiles.csv") as err:
        csv_profiles(path)
    assert where in str(err.value) and str(path) in str(err.value)


def test_simbench_profiles_ship_with_the_package():
    table = simbench_profiles("1-LV-rural1--0-sw")
    assert len(table) == 366 * 96                                  # 2016, 15 min
    assert {"H0-A", "H0-B", "H0-C", "L1-A", "L2-A", "PV5", "PV6", "PV8"} <= set(table.columns)
    assert table[["H0-A", "H0-B", "L2-A"]].max().to_numpy() == pytest.approx(1.0)   # multipliers of the peak
    assert 0.5 < table["PV5"].max() < 1.0
    assert table[["H0-A", "H0-B", "H0-C", "L1-A", "L2-A", "PV5", "PV6", "PV8"]].to_numpy().min() >= 0
    assert "hv_mixed2" not in table and table.to_numpy().min() > -1e-4     # net generation is not a load multiplier
    # only the profiles a case uses, read column by column: the same values; one that is not there (or dropped
    # as net generation) → every profile, for the caller to name it among them
    wanted = ("PV6", "H0-B", "L2-A")
    pd.testing.assert_frame_equal(simbench_profiles("1-LV-rural1--0-sw", wanted), table[list(wanted)],
                                  check_exact=True)
    for missing in ("H0-Z", "hv_mixed2"):
        assert simbench_profiles("1-LV-rural1--0-sw", ("H0-B", missing)).columns.equals(table.columns)
    for code in ("1-LV-rural9--0-sw", "1-LV-rural1--7-sw", "rural1"):    # no such grid, scenario, or code at all
        with pytest.raises(InputError, match=f"profiles.simbench_grid: '{code}' is not a SimBench grid code"):
            simbench_profiles(code)


# ------------------------------------------------------------------ session records

def test_session_records_round_trip_and_rejections(tmp_path):
    path = tmp_path / "s.csv"
    good = pd.DataFrame({"bus": [2, 2, 1], "plug_in": ["2016-03-01 18:00", "2016-03-01 22:30", "2016-03-02 17:00"],
                         "plug_out": ["2016-03-02 07:00", "2016-03-02 06:00", "2016-03-02 19:00"],
                         "energy_kwh": [20.0, 11.0, 7.2]})
    good.to_csv(path, index=False)
    rec = read_sessions_csv(path, charger_kw=3.6)
    assert rec.energy_kwh.tolist() == [20.0, 11.0, 7.2]
    s = rec.on_day(2, np.datetime64("2016-03-01T12:00"), 24.0, 3.6e-3, 0.5)
    assert s.arrival_h.tolist() == [6.0, 10.5] and s.departure_h.tolist() == [19.0, 18.0]   # overnight, kept
    assert s.e_required_mwh * 1e3 == pytest.approx([20.0, 11.0]) and s.controllable.tolist() == [True, False]
    bad = pd.concat([good, pd.DataFrame({"bus": [2, 2], "plug_in": ["2016-03-01 10:00", "2016-03-01 10:00"],
                                         "plug_out": ["2016-03-01 09:00", "2016-03-01 11:00"],
                                         "energy_kwh": [1.0, 50.0]})], ignore_index=True)
    bad.to_csv(path, index=False)
    with pytest.raises(InputError, match=r"2 impossible records \(row 5: plug-out not after plug-in; row 6: energy"):
        read_sessions_csv(path, charger_kw=3.6)


# ------------------------------------------------------------------ plan, reduce and evaluate a year

YEAR_CASE = """
name = "year-small"
[network]
source = "{net}"
v_min_pu = 0.9
[time]
steps_per_day = 24
horizon_start_h = 0
[prices]
buy_eur_per_mwh = [60, 60, 60, 60, 60, 60, 90, 120, 120, 120, 100, 100, 100, 100, 100, 120, 220, 220, 220, 220, 220, 160, 90, 70]
sell_eur_per_mwh = [30]
[[pv]]
bus = 2
capacity_mw = 0.6
profile = "PV"
[storage]
candidates = [2]
max_energy_mwh = 2.0
max_power_mw = 0.5
energy_cost_eur_per_mwh = 100000.0
power_cost_eur_per_mw = 60000.0
loss_resistance_pu = 0.03
[profiles]
source = "csv"
csv = "profiles.csv"
default_load_profile = "H0"
[scenarios]
source = "year"
k = {k}
"""


def year_case(tmp_path, k):
    net = save_net(make_net([(0, 1), (1, 2)], {1: (0.4, 0.1), 2: (0.5, 0.1)}, max_i_ka=0.2), tmp_path / "n.json")
    write_profiles(tmp_path / "profiles.csv")
    path = tmp_path / f"year{k}.toml"
    path.write_text(YEAR_CASE.format(net=net, k=k))
    return path


def test_k_equal_days_out_of_sample_equals_in_sample(tmp_path):
    case = year_case(tmp_path, 4)
    assert main(["plan", str(case), "--out", str(tmp_path / "plan"), "--tol", "1e-6", "-q"]) == 0
    doc = json.loads((tmp_path / "plan" / "results.json").read_text())
    assert [s["weight"] for s in doc["scenarios"]] == pytest.approx([0.25] * 4)
    assert main(["evaluate", str(case), "--plan", str(tmp_path / "plan" / "results.json"),
                 "--out", str(tmp_path / "eval"), "-q"]) == 0
    ev = json.loads((tmp_path / "eval" / "evaluation.json").read_text())
    assert ev["days"] == 4
    assert ev["out_of_sample_cost"] == pytest.approx(ev["in_sample_cost"], rel=1e-7)
    assert abs(ev["gap_percent"]) < 1e-5
    days = pd.read_csv(tmp_path / "eval" / "days.csv")
    assert list(days.columns) == ["day", "cost", "penalty"] and len(days) == 4
    assert ev["p95_day_cost"] == pytest.approx(np.percentile(days.cost, 95))


def test_reduce_command_and_k_override(tmp_path):
    case = year_case(tmp_path, 4)
    assert main(["reduce", str(case), "--k", "2", "--out", str(tmp_path / "red"), "-q"]) == 0
    reps = pd.read_csv(tmp_path / "red" / "representatives.csv")
    assert list(reps.columns) == ["day", "weight", "cluster_size"]
    assert reps.weight.sum() == pytest.approx(1.0) and reps.cluster_size.sum() == 4 and len(reps) == 2
    assert (tmp_path / "red" / "medoids.png").stat().st_size > 0
    assert main(["plan", str(case), "--k", "2", "--out", str(tmp_path / "p2"), "-q"]) == 0
    doc = json.loads((tmp_path / "p2" / "results.json").read_text())
    assert [s["day"] for s in doc["scenarios"]] == reps.day.tolist()
    # a plan made on two days, priced on all four: some gap, reported with its sign
    assert main(["evaluate", str(case), "--plan", str(tmp_path / "p2" / "results.json"),
                 "--out", str(tmp_path / "e2"), "-q"]) == 0
    ev = json.loads((tmp_path / "e2" / "evaluation.json").read_text())
    assert ev["gap_percent"] == pytest.approx(100 * (ev["out_of_sample_cost"] / ev["in_sample_cost"] - 1))
    # the year's days on this process alone and on 3 forked workers (parallel/workers.py): the same costs
    for workers in ("1", "3"):
        assert main(["evaluate", str(case), "--plan", str(tmp_path / "p2" / "results.json"),
                     "--out", str(tmp_path / f"e-{workers}"), "-q", "--workers", workers]) == 0
    one, three = (pd.read_csv(tmp_path / f"e-{w}" / "days.csv") for w in ("1", "3"))
    pd.testing.assert_frame_equal(one, three, check_exact=True)


def test_k_larger_than_the_year_is_an_input_error(tmp_path, capsys):
    case = year_case(tmp_path, 9)
    assert main(["plan", str(case), "--out", str(tmp_path / "x")]) == 2
    assert "scenarios.k: K = 9 must be between 1 and the number of days (4)" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
