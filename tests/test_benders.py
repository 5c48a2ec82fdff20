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


@pytest.mark.parametrize("siting, warm", [("relaxed", 0), ("fixed", 0), ("relaxed", 1), ("fixed", 1)])
def test_benders_equals_extensive_form(small_case, siting, warm):
    """Also with a warm start (benders.warm_start_days = 1 of the 2 days), whose first plan has relaxed sites
    here, or the fixed ones."""
    data, tmp_path = small_case
    data["storage"].update(siting=siting, fixed_sites=[2] if siting == "fixed" else [])
    inst = instance_of(data, tmp_path)
    ef = solve_extensive(inst)
    bd = solve_benders(inst, tol=1e-6, max_iter=200, warm_start_days=warm)
    assert (bd.warm_start is not None) == (warm > 0)
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


@pytest.mark.parametrize("lp_phase", [False, True])
def test_binary_siting_bounds_and_lower_bound_monotone(small_case, lp_phase):
    """Also with the LP phase after a warm start, whose integral first plan is the first incumbent."""
    data, tmp_path = small_case
    inst = instance_of(data, tmp_path)
    res = solve_benders(inst, tol=1e-5, max_iter=200, lp_phase=lp_phase, warm_start_days=1 if lp_phase else 0)
    assert res.converged
    lbs = np.array([h.lower_bound for h in res.history if np.isfinite(h.lower_bound)])
    assert (np.diff(lbs) >= -1e-7 * np.abs(lbs[1:])).all()
    # the integer optimum is no better than the relaxed one, and it respects the site limit
    relaxed = solve_extensive(inst, exact=False).upper_bound
    assert res.upper_bound >= relaxed * (1 - 1e-5)
    assert set(np.round(res.y, 6)) <= {0.0, 1.0} and res.y.sum() <= 1
    assert res.history[-1].gap <= 1e-5 and res.upper_bound >= res.lower_bound - 1e-6 * abs(res.upper_bound)


@pytest.mark.parametrize("stabilisation, master", [("level", "sitings"), ("interior-level", "sitings"),
                                                   ("trust-region", "sitings"), ("in-out", "sitings"),
                                                   ("none", "sitings"), ("level", "milp"), ("interior-level", "milp")])
def test_benders_equals_the_exact_extensive_form_for_binary_siting(small_case, stabilisation, master, monkeypatch):
    """No free capacity (capacity_floor = 0, the default), two candidates, one site allowed; the master solved
    siting by siting (few sitings, as here) and as the MILP larger cases get."""
    from stochplan.formulations import master as master_module

    if master == "milp":
        monkeypatch.setattr(master_module, "ENUMERATE_SITINGS", 0)
    data, tmp_path = small_case
    inst = instance_of(data, tmp_path)
    assert inst.case.model.capacity_floor == 0.0
    ef = solve_extensive(inst)                   # branch-and-bound over the sites
    assert ef.timings["nodes"] >= 1 and set(ef.y) <= {0.0, 1.0}
    bd = solve_benders(inst, tol=1e-5, max_iter=200, stabilisation=stabilisation)
    assert bd.converged
    assert bd.upper_bound == pytest.approx(ef.upper_bound, rel=1e-4)
    assert bd.exactness["total_eur"] == pytest.approx(ef.upper_bound, rel=1e-4)
    assert abs(bd.exactness["upper_bound_difference"]) < 1e-6      # priced bound vs the exact model
    assert bd.y.tolist() == ef.y.tolist()


@pytest.mark.parametrize("stabilisation", ["level", "interior-level"])
def test_a_warm_start_prices_the_exact_plan_of_the_medoid_days_first(small_case, stabilisation):
    """benders.warm_start_days = 1 of the small case's 2 days: iteration 0 prices the exact EF optimum of the
    medoid day, which carries both days' weight (decomposition/warmstart.py), instead of "build nothing"; the
    run still ends at the exact EF optimum. With as many days as planned there is nothing to reduce: no warm
    start."""
    import json
    from dataclasses import replace

    from stochplan.decomposition.warmstart import reduced_days, warm_start

    data, tmp_path = small_case
    inst = instance_of(data, tmp_path)
    days = reduced_days(inst, 1)
    assert len(days) == 1 and days[0].day in [d.day for d in inst.days]
    assert days[0].weight == pytest.approx(sum(d.weight for d in inst.days))
    reduced = solve_extensive(replace(inst, days=days))
    out = tmp_path / f"warm-{stabilisation}"
    out.mkdir()
    bd = solve_benders(inst, tol=1e-5, max_iter=200, stabilisation=stabilisation, warm_start_days=1,
                       checkpoint_dir=out)
    first_plan = json.loads((out / "checkpoint.json").read_text())["state"]["priced"][0][0]
    assert first_plan == reduced.x.tolist() and reduced.investment_eur > 0      # not "build nothing"
    assert bd.warm_start == {"days": [days[0].day], "weights": [days[0].weight], "value_eur": reduced.upper_bound,
                             "nodes": reduced.timings["nodes"], "other_sitings": []}
    assert bd.timings["warm_start_s"] > 0
    ef = solve_extensive(inst)
    assert bd.converged and bd.upper_bound == pytest.approx(ef.upper_bound, rel=1e-4)
    assert bd.history[0].upper_bound >= ef.upper_bound * (1 - 1e-7)    # a plan of the full problem
    assert bd.y.tolist() == ef.y.tolist()
    assert warm_start(inst, 2) is None and warm_start(inst, 0) is None


def test_a_failed_warm_start_is_reported_and_the_run_starts_from_nothing(small_case, monkeypatch, caplog):
    from stochplan.decomposition import warmstart
    from stochplan.errors import SolverError

    def failing(*args, **kwargs):
        raise SolverError("extensive form", "NumericalError (injected by the test)")

    monkeypatch.setattr(warmstart, "solve_extensive", failing)
    data, tmp_path = small_case
    inst = instance_of(data, tmp_path)
    res = solve_benders(inst, tol=1e-5, max_iter=200, warm_start_days=1)
    cold = solve_benders(inst, tol=1e-5, max_iter=200, warm_start_days=0)
    assert "warm start: extensive form" in caplog.text and "NumericalError" in caplog.text
    assert res.warm_start is None and res.converged
    assert [h.upper_bound for h in res.history] == [h.upper_bound for h in cold.history]


def test_siting_bounds_lie_below_each_sitings_exact_optimum(small_case):
    """results.json → benders.siting_bounds: for every siting the least cost the run's cuts allow. Each must lie
    below that siting's exact optimum (the EF with the sites fixed), and the plan's siting is the one chosen."""
    from copy import deepcopy

    data, tmp_path = small_case
    res = solve_benders(instance_of(data, tmp_path), tol=1e-5, max_iter=200)
    rows = res.siting_bounds
    assert [r["storage_buses"] for r in rows if r["chosen"]] == [[[2, 3][int(np.argmax(res.y))]]]
    assert sorted(len(r["storage_buses"]) for r in rows) == [0, 1, 1]          # none, bus 2, bus 3 (one site)
    assert rows[0]["lower_bound"] == pytest.approx(res.lower_bound, rel=1e-9)
    assert [r["lower_bound"] for r in rows] == sorted(r["lower_bound"] for r in rows)
    for row in rows:
        if not row["storage_buses"]:
            continue
        fixed = deepcopy(data)
        fixed["storage"].update(siting="fixed", fixed_sites=row["storage_buses"])
        exact = solve_extensive(instance_of(fixed, tmp_path)).upper_bound
        assert row["lower_bound"] <= exact * (1 + 1e-7)
        assert row["over_plan"] == pytest.approx((row["lower_bound"] - res.upper_bound) / res.upper_bound)
        if row["chosen"]:
            assert exact == pytest.approx(res.upper_bound, rel=1e-4)
        else:
            assert row["lower_bound"] >= res.upper_bound * (1 - 1e-5)      # proven no better, within the tol


def _random_master_data(seed: int = 5, costly_sites: bool = False, rng=None):
    """A first stage of four storage candidates (at most two sites) and two stations, its day weights, and 12
    exact cuts (x̂, Q(x̂), ∇Q(x̂)) of three random convex days Q_s(x) = Σ_i c_si (x_i − m_si)² [EUR/day]."""
    from stochplan.formulations.investment import FirstStage

    rng = rng or np.random.default_rng(seed)
    k, n_st = 4, 2
    n_x = 2 * k + n_st
    fs = FirstStage(storage_buses=(3, 5, 7, 9), station_buses=(4, 6), x_max=np.array([4.0] * k + [1.0] * k + [0.5] * 2),
                    cost_x=rng.uniform(5e3, 2e4, n_x), cost_y=rng.uniform(1e3, 5e3, k),
                    capex_x=rng.uniform(5e4, 2e5, n_x), capex_y=np.full(k, 5e5 if costly_sites else 3e4),
                    budget_eur=9e5, max_sites=2, min_duration_h=1.0, max_duration_h=4.0, siting="binary",
                    fixed_y=np.zeros(k))
    centres = rng.uniform(0, 1, (3, n_x)) * fs.x_max
    curvature = rng.uniform(20, 200, (3, n_x))
    cuts = []
    for _ in range(12):
        x_hat = rng.uniform(0, 1, n_x) * fs.x_max
        cuts.append((x_hat, (curvature * (x_hat - centres) ** 2).sum(axis=1), 2 * curvature * (x_hat - centres)))
    return fs, np.array([0.5, 0.3, 0.2]), cuts


def test_the_master_siting_by_siting_is_the_milp():
    """formulations/master.py: with few sitings the master is one LP per siting; its optimum, siting and sizes
    are the MILP's, on random convex cut models (four candidates, at most two sites, a budget that rules out the
    largest sizes, or every two-site siting)."""
    from dataclasses import replace

    from stochplan.formulations import master as master_module
    from stochplan.result import DAYS_PER_YEAR

    rng = np.random.default_rng(5)
    fs, _, _ = _random_master_data(rng=rng)
    k = fs.n_storage
    assert len(master_module.sitings(fs)) == 1 + 4 + 6
    no_storage = replace(fs, storage_buses=(), x_max=fs.x_max[2 * k:], cost_x=fs.cost_x[2 * k:], cost_y=np.zeros(0),
                         capex_x=fs.capex_x[2 * k:], capex_y=np.zeros(0), fixed_y=np.zeros(0))
    assert master_module.sitings(no_storage) is None             # nothing to site (cigre_mv): the master is an LP
    bare = master_module.Master(no_storage, np.ones(1))
    bare.add_cuts(np.zeros(2), np.array([100.0]), np.array([[-1e5, -1e5]]))
    assert bare.solve()[0] == pytest.approx(fs.cost_x[2 * k:] @ fs.x_max[2 * k:] + DAYS_PER_YEAR * (100.0 - 1e5 * 1.0))
    for trial in range(6):
        costly = trial % 2 == 0                     # two sites over the budget: those LPs infeasible
        first, weights, cuts = _random_master_data(rng=rng, costly_sites=costly)
        by_siting, milp = master_module.Master(first, weights), master_module.Master(first, weights)
        milp.sitings = None
        for m in (by_siting, milp):
            for cut in cuts:
                m.add_cuts(*cut)
        (lb_s, x_s, y_s), (lb_m, x_m, y_m) = by_siting.solve(), milp.solve()
        assert lb_s == pytest.approx(lb_m, rel=1e-9)
        assert np.round(y_s).tolist() == np.round(y_m).tolist() and 0 < np.round(y_s).sum() <= first.max_sites
        if costly:
            assert np.round(y_s).sum() == 1
        np.testing.assert_allclose(x_s, x_m, atol=1e-6)


def test_a_siting_lp_that_ends_unknown_is_solved_afresh(monkeypatch, caplog):
    """HiGHS's simplex once ended 'Unknown' on a hot-started siting LP (SimBench MV); that siting is solved again
    on a fresh HiGHS and the master's answer is the MILP's."""
    import highspy

    from stochplan.formulations import master as master_module

    fs, weights, cuts = _random_master_data()
    made = []

    class Flaky:                           # the enumeration's HiGHS, whose 3rd LP ends 'Unknown'
        def __init__(self, highs):
            self.highs, self.runs = highs, 0

        def run(self):
            self.runs += 1
            return self.highs.run()

        def getModelStatus(self):
            return highspy.HighsModelStatus.kUnknown if self.runs == 3 else self.highs.getModelStatus()

        def __getattr__(self, name):
            return getattr(self.highs, name)

    real = master_module._highs

    def highs():
        made.append(Flaky(real()) if not made else real())
        return made[-1]

    by_siting, milp = master_module.Master(fs, weights), master_module.Master(fs, weights)
    milp.sitings = None
    for m in (by_siting, milp):
        for cut in cuts:
            m.add_cuts(*cut)
    monkeypatch.setattr(master_module, "_highs", highs)
    with caplog.at_level("INFO"):
        lb, x, y = by_siting.solve()
    assert "HiGHS ended 'Unknown' from the last siting's basis; solved afresh" in caplog.text and len(made) == 2
    monkeypatch.setattr(master_module, "_highs", real)
    assert lb == pytest.approx(milp.solve()[0], rel=1e-9)


def test_the_exact_extensive_form_on_forked_workers_is_the_one_process_optimum(small_case):
    """Branch-and-bound with the nodes after the root solved two at a time on forked workers
    (parallel/workers.py): the same optimum and plan bit for bit; every node a one-process run solves is solved."""
    from stochplan.parallel.workers import WorkerComm

    data, tmp_path = small_case
    inst = instance_of(data, tmp_path)
    one = solve_extensive(inst)
    two = solve_extensive(inst, comm=WorkerComm(2))
    assert one.timings["nodes"] >= 3 and two.timings["ranks"] == 2
    assert two.upper_bound == one.upper_bound and two.x.tolist() == one.x.tolist()
    assert two.y.tolist() == one.y.tolist() and two.timings["nodes"] >= one.timings["nodes"]
    assert [s.cost_eur for s in two.solutions] == [s.cost_eur for s in one.solutions]


def test_the_extensive_form_with_a_margin_proves_every_siting_within_it(small_case):
    """solve_extensive(within=δ): besides the optimum, every other siting whose own optimum (the EF with those
    sites fixed) lies within δ of it, with that optimum, best first, and none beyond δ; the optimum itself is the
    one without a margin. Three candidates, at most two sites: seven sitings, δ between the third and fourth."""
    from copy import deepcopy
    from itertools import combinations

    data, tmp_path = small_case
    data["storage"]["candidates"] = [1, 2, 3]
    data["investment"]["max_storage_sites"] = 2
    inst = instance_of(data, tmp_path)
    exact = {}
    for count in range(3):
        for sites in combinations([1, 2, 3], count):
            fixed = deepcopy(data)
            fixed["storage"].update(siting="fixed", fixed_sites=list(sites))
            exact[sites] = solve_extensive(instance_of(fixed, tmp_path)).upper_bound
    ranked = sorted(exact, key=exact.get)
    best = exact[ranked[0]]
    over = [(exact[s] - best) / best for s in ranked]
    within = 0.5 * (over[3] + over[4])
    plain, wide = solve_extensive(inst), solve_extensive(inst, within=within)
    assert plain.alternatives is None and wide.upper_bound == plain.upper_bound
    assert wide.x.tolist() == plain.x.tolist() and wide.y.tolist() == plain.y.tolist()
    assert plain.upper_bound == pytest.approx(best, rel=1e-6)
    buses = lambda y: tuple(b for b, built in zip([1, 2, 3], y) if built > 0.5)  # noqa: E731
    assert [buses(y) for _, _, y in wide.alternatives] == ranked[1:4]
    assert [v for v, _, _ in wide.alternatives] == pytest.approx([exact[s] for s in ranked[1:4]], rel=1e-6)
    assert wide.timings["nodes"] > plain.timings["nodes"]


def test_a_warm_start_with_a_margin_prices_the_other_sitings_first(small_case):
    """benders.warm_start_within: iteration 0 prices the reduced problem's optimum and then each other siting's
    optimal plan within the margin (the reduced EF's alternatives), one command each here (one plan a round);
    results.json names them; the run ends at the exact EF optimum; a checkpoint of it resumes exactly."""
    import json
    from dataclasses import replace

    from stochplan.decomposition.benders import resume_state
    from stochplan.decomposition.warmstart import reduced_days

    data, tmp_path = small_case
    data["storage"]["candidates"] = [1, 2, 3]
    inst = instance_of(data, tmp_path)
    reduced = solve_extensive(replace(inst, days=reduced_days(inst, 1)), within=0.1)
    assert len(reduced.alternatives) >= 2
    out = tmp_path / "warm-within"
    out.mkdir()
    bd = solve_benders(inst, tol=1e-5, max_iter=200, warm_start_days=1, warm_start_within=0.1, checkpoint_dir=out)
    priced = [entry[0] for entry in json.loads((out / "checkpoint.json").read_text())["state"]["priced"]]
    plans = [reduced.x] + [x for _, x, _ in reduced.alternatives]
    assert priced[:len(plans)] == [x.tolist() for x in plans]
    assert bd.warm_start["other_sitings"] == [
        {"storage_buses": [b for b, built in zip([1, 2, 3], y) if built > 0.5], "value_eur": v}
        for v, _, y in reduced.alternatives]
    ef = solve_extensive(inst)
    assert bd.converged and bd.upper_bound == pytest.approx(ef.upper_bound, rel=1e-4)
    assert bd.y.tolist() == ef.y.tolist()
    stopped = tmp_path / "warm-within-stopped"          # a checkpoint after iteration 1 resumes exactly
    stopped.mkdir()
    solve_benders(inst, tol=1e-5, max_iter=200, warm_start_days=1, warm_start_within=0.1, checkpoint_dir=stopped,
                  stop_after=1)
    state = resume_state(json.loads((stopped / "checkpoint.json").read_text()), inst, stopped / "checkpoint.json")
    again = solve_benders(inst, tol=1e-5, max_iter=200, resume=state)
    assert [(h.lower_bound, h.upper_bound) for h in again.history] == \
        [(h.lower_bound, h.upper_bound) for h in bd.history]
    assert again.x.tolist() == bd.x.tolist() and again.plans_priced == bd.plans_priced
    assert again.warm_start == bd.warm_start


@pytest.mark.parametrize("fail", [None, "root", "shared"])
def test_the_warm_starts_nodes_are_shared_with_benders_ranks(small_case, monkeypatch, caplog, fail):
    """With a margin, the warm start's branch-and-bound runs on Benders' ranks (two forked workers, each compiling
    the reduced problem: evaluator.DayEvaluator.share_nodes): the same first plans and the same run as one
    process. A failed node — the root on rank 0 before anything is shared, or a shared one — is reported, the
    other rank is released and the run starts from "build nothing", as a cold run does."""
    from stochplan.formulations import extensive
    from stochplan.parallel.workers import WorkerComm

    data, tmp_path = small_case
    data["storage"]["candidates"] = [1, 2, 3]
    inst = instance_of(data, tmp_path)
    kw = dict(tol=1e-5, max_iter=200, warm_start_days=1, warm_start_within=0.1)
    caplog.set_level("INFO")
    if fail is None:
        one = solve_benders(inst, **kw)
        two = solve_benders(inst, comm=WorkerComm(2), **kw)
        assert "branch-and-bound nodes on 2 ranks" in caplog.text
        assert two.warm_start == one.warm_start and len(one.warm_start["other_sitings"]) >= 2
    else:
        solve = extensive._Nodes._solve

        def failing(self, lo, hi, branching):      # the root has no site fixed, a shared node has some
            if (fail == "root") == bool(np.all(lo < hi)):
                row = np.full(self.width, np.nan)
                row[0] = 1.0                         # FAILURES[0]
                return row, None
            return solve(self, lo, hi, branching)

        monkeypatch.setattr(extensive._Nodes, "_solve", failing)      # (the forked worker inherits it)
        two = solve_benders(inst, comm=WorkerComm(2), **kw)
        one = solve_benders(inst, tol=1e-5, max_iter=200, warm_start_days=0)
        assert "warm start: extensive form" in caplog.text and two.warm_start is None
    assert two.converged and [(h.lower_bound, h.upper_bound) for h in two.history] == \
        [(h.lower_bound, h.upper_bound) for h in one.history]
    assert two.x.tolist() == one.x.tolist()


def test_level_resumes_exactly_with_its_centre_per_siting(small_case):
    """`level` keeps the best plan of each siting it priced; a checkpoint carries them, so a resumed run
    takes the same steps as the uninterrupted one."""
    import json

    from stochplan.decomposition.benders import resume_state

    data, tmp_path = small_case
    inst = instance_of(data, tmp_path)
    full = solve_benders(inst, tol=1e-5, max_iter=200, stabilisation="level")
    out = tmp_path / "stopped"
    out.mkdir()
    solve_benders(inst, tol=1e-5, max_iter=200, stabilisation="level", checkpoint_dir=out, stop_after=4)
    state = resume_state(json.loads((out / "checkpoint.json").read_text()), inst, out / "checkpoint.json")
    assert len(state.stab["site_centres"]) >= 2          # more than one siting priced before the stop
    again = solve_benders(inst, tol=1e-5, max_iter=200, stabilisation="level", resume=state)
    assert full.converged and again.converged
    assert [(h.lower_bound, h.upper_bound) for h in again.history] == \
        [(h.lower_bound, h.upper_bound) for h in full.history]
    assert again.x.tolist() == full.x.tolist()


@pytest.mark.parametrize("stabilisation", ["level", "interior-level", "trust-region"])
def test_several_plans_a_round_reach_the_extensive_form_in_fewer_rounds(small_case, stabilisation):
    """benders.points_per_round = 3 on three candidates (four sitings): each round prices the step and up to two
    more plans (level methods: the other unproven sitings' level steps, the master's own plan, a deeper step;
    trust-region: the master's own plan); the run ends at the exact EF optimum, in fewer rounds than one plan a
    round takes (level: 9 against 16), and a checkpoint of it resumes exactly."""
    import json

    from stochplan.decomposition.benders import resume_state

    data, tmp_path = small_case
    data["storage"]["candidates"] = [1, 2, 3]
    inst = instance_of(data, tmp_path)
    ef = solve_extensive(inst)
    one = solve_benders(inst, tol=1e-5, max_iter=200, stabilisation=stabilisation)
    three = solve_benders(inst, tol=1e-5, max_iter=200, stabilisation=stabilisation, points_per_round=3)
    assert one.plans_priced == sum(h.subproblems_s > 0 for h in one.history)     # one plan in each priced round
    assert three.converged and three.upper_bound == pytest.approx(ef.upper_bound, rel=1e-4)
    assert three.lower_bound == pytest.approx(ef.upper_bound, rel=1e-4) and three.y.tolist() == ef.y.tolist()
    rounds = three.history[-1].iteration
    assert three.plans_priced > rounds + 1
    if stabilisation == "trust-region":      # its extra plan is the master's own only: here no round fewer (9)
        assert rounds <= one.history[-1].iteration
    else:
        assert rounds < one.history[-1].iteration
    out = tmp_path / f"stopped-{stabilisation}"
    out.mkdir()
    solve_benders(inst, tol=1e-5, max_iter=200, stabilisation=stabilisation, points_per_round=3,
                  checkpoint_dir=out, stop_after=3)
    state = resume_state(json.loads((out / "checkpoint.json").read_text()), inst, out / "checkpoint.json")
    again = solve_benders(inst, tol=1e-5, max_iter=200, stabilisation=stabilisation, points_per_round=3,
                          resume=state)
    assert [(h.lower_bound, h.upper_bound) for h in again.history] == \
        [(h.lower_bound, h.upper_bound) for h in three.history]
    assert again.x.tolist() == three.x.tolist() and again.plans_priced == three.plans_priced


def test_cuts_stay_below_the_true_value_at_random_plans(small_case):
    """θ_s ≥ Q_ρ(x̂) + g(x − x̂) must hold under Q_s(x) for every x ≥ 0: solve the days at random plans."""
    from stochplan.formulations.operation import build_operation, solve_day

    data, tmp_path = small_case
    inst = instance_of(data, tmp_path)
    out = tmp_path / "run"
    out.mkdir()
    res = solve_benders(inst, tol=1e-4, max_iter=40, checkpoint_dir=out)
    assert res.converged
    import json
    priced = json.loads((out / "checkpoint.json").read_text())["state"]["priced"]
    assert len(priced) >= 4
    models = [build_operation(inst, day) for day in inst.days]
    rng = np.random.default_rng(0)
    fs = inst.first
    for _ in range(6):
        x = rng.uniform(0, 1, fs.n_x) * fs.x_max * (rng.uniform(size=fs.n_x) < 0.7)   # some components at 0
        true = np.array([solve_day(m, x).cost_eur for m in models])
        for x_hat, values, grads in priced:
            cut = np.asarray(values) + np.asarray(grads) @ (x - np.asarray(x_hat))
            assert (cut <= true + 1e-6 * np.abs(true) + 1e-3).all()


def test_a_voltage_constrained_lindistflow_siting_case_converges_without_free_capacity(tmp_path):
    """The kind of case that stalled at a 46 % gap with capacity_floor = 0: LinDistFlow, η_c/η_d storage,
    a binding 0.95 pu voltage floor, no EVs, four candidates."""
    net = make_net([(0, 1), (1, 2), (2, 3), (3, 4), (2, 5)], {2: (0.6, 0.2), 3: (0.7, 0.25), 4: (0.8, 0.3),
                                                            5: (0.5, 0.2)}, r_ohm=1.2, x_ohm=1.0, max_i_ka=0.3)
    data = {
        "name": "volt",
        "network": {"source": save_net(net, tmp_path / "volt.json"), "v_min_pu": 0.95, "v_max_pu": 1.05},
        "time": {"steps_per_day": 6, "horizon_start_h": 12},
        "model": {"formulation": "lindistflow", "storage_model": "efficiency"},
        "prices": {"buy_eur_per_mwh": [60, 60, 60, 60, 60, 60, 90, 120, 120, 120, 100, 100,
                                       100, 100, 100, 120, 220, 220, 220, 220, 220, 160, 90, 70]},
        "storage": {"candidates": [2, 3, 4, 5], "max_energy_mwh": 2.0, "max_power_mw": 0.6, "min_duration_h": 1.0,
                    "max_duration_h": 4.0, "energy_cost_eur_per_mwh": 90_000.0, "power_cost_eur_per_mw": 60_000.0,
                    "site_cost_eur": 15_000.0, "efficiency_charge": 0.95, "efficiency_discharge": 0.95},
        "scenarios": {"source": "synthetic", "count": 2, "seed": 5},
        "investment": {"max_storage_sites": 2},
    }
    inst = instance_of(data, tmp_path)
    ef = solve_extensive(inst)
    bd = solve_benders(inst, tol=1e-4, max_iter=150)
    assert bd.converged
    assert bd.exactness["total_eur"] == pytest.approx(ef.upper_bound, rel=1e-4)
    assert bd.y.sum() >= 1                       # the voltage floor makes storage worth building


def test_single_cut_reaches_the_same_optimum(small_case):
    data, tmp_path = small_case
    data["storage"]["siting"] = "relaxed"
    inst = instance_of(data, tmp_path)
    multi = solve_benders(inst, tol=1e-6, max_iter=200)
    single = solve_benders(inst, tol=1e-6, max_iter=300, multicut=False, stabilisation="none")
    assert single.converged
    assert single.upper_bound == pytest.approx(multi.upper_bound, rel=1e-5)


def test_the_shipped_instance_class_case_matches_the_exact_extensive_form():
    """scenarios/ieee33_lindistflow.toml: LinDistFlow, η storage without Q, no free capacity, no EVs, six
    candidates, a binding voltage floor, unrated lines. At 1e-5: the best plan with site 29 instead of 30 is
    within 6.5e-5 of the optimum, so a run to the case's 1e-4 may rightly end on either."""
    from pathlib import Path

    from stochplan.config import load_case
    from stochplan.instance import build_instance

    inst = build_instance(load_case(Path(__file__).parents[1] / "scenarios" / "ieee33_lindistflow.toml"))
    assert not inst.case.storage.reactive_power and inst.case.model.capacity_floor == 0.0
    ef = solve_extensive(inst)
    bd = solve_benders(inst, tol=1e-5)
    assert bd.converged
    assert bd.exactness["total_eur"] == pytest.approx(ef.upper_bound, rel=1e-5)
    assert bd.y.tolist() == ef.y.tolist() and ef.y.sum() == 3


def test_a_failed_level_step_prices_the_masters_plan_and_still_converges(small_case, monkeypatch, caplog):
    """HiGHS's IPM can end 'unknown' on a thin level set; the step then takes the master's own plan (which
    lies in the level set) instead of stopping the run, and says so."""
    from stochplan.errors import SolverError
    from stochplan.formulations.master import Master

    def failing(self, level, y):
        raise SolverError("interior level-set point", "unknown")

    data, tmp_path = small_case
    inst = instance_of(data, tmp_path)
    ef = solve_extensive(inst)
    monkeypatch.setattr(Master, "interior", failing)
    bd = solve_benders(inst, tol=1e-5, max_iter=200, stabilisation="interior-level")
    assert bd.converged and bd.upper_bound == pytest.approx(ef.upper_bound, rel=1e-4)
    assert "interior level-set point: solver status 'unknown'; this step prices the master's own plan" in caplog.text
