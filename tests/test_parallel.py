"""The parallel layer under a real `mpiexec -n 2` (the mpich wheel): collectives, identical answers for
1 and 2 ranks, checkpoint/resume, and a failure on one rank stopping the whole job."""
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from collectives import check_collectives

from stochplan.parallel import SerialComm, assign_days, assign_spare
from stochplan.parallel.workers import WorkerComm

HERE = Path(__file__).parent
MPIEXEC = Path(sys.executable).parent / "mpiexec"
CASE = """
name = "par-small"
[network]
source = "pandapower:case33bw"
default_max_i_ka = 0.3
v_min_pu = 0.9
[time]
steps_per_day = 8
horizon_start_h = 12
[prices]
buy_eur_per_mwh = [70, 70, 70, 70, 70, 70, 80, 120, 120, 120, 100, 100, 100, 100, 100, 120, 220, 220, 220, 220, 220, 160, 90, 80]
sell_eur_per_mwh = [40]
[[pv]]
bus = 17
capacity_mw = 0.6
[storage]
candidates = [17, 32]
max_energy_mwh = 3.0
max_power_mw = 1.0
energy_cost_eur_per_mwh = 200000.0
power_cost_eur_per_mw = 120000.0
site_cost_eur = 30000.0
loss_resistance_pu = 0.03
[chargers]
max_capacity_mw = 0.5
cost_eur_per_mw = 150000.0
[[chargers.stations]]
bus = 6
evs = 30
[scenarios]
source = "synthetic"
count = 5
seed = 2
[investment]
max_storage_sites = 1
[benders]
warm_start_days = 2
tol = 1e-5    # with the warm start 1e-4 takes 3 rounds: too few for a day's 3rd solve on its final rank
"""


def stochplan(*args, ranks=1, script=None, cwd=None):
    cmd = [sys.executable] + ([str(script)] if script else ["-m", "stochplan"]) + [str(a) for a in args]
    if ranks > 1:
        cmd = [str(MPIEXEC), "-n", str(ranks)] + cmd
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    path = tmp_path_factory.mktemp("par") / "case.toml"
    path.write_text(CASE)
    return path


@pytest.fixture(scope="module")
def serial_run(case):
    out = case.parent / "serial"
    proc = stochplan("plan", case, "--out", out, "-q", "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    return out


def read(out):
    return json.loads((out / "results.json").read_text()), pd.read_csv(out / "convergence.csv")


def test_longest_processing_time_assignment_by_hand():
    # times 5, 4, 3, 3, 2 on 2 ranks: 5→r0, 4→r1, 3→r1 (4 < 5), 3→r0 (8 vs 7 → r1? no: loads 5, 7 → r0), 2→r1
    assert assign_days(np.array([5.0, 4.0, 3.0, 3.0, 2.0]), 2).tolist() == [0, 1, 1, 0, 1]
    assert assign_days(np.ones(5), 1).tolist() == [0] * 5


def test_spare_work_goes_where_it_ends_first_by_hand():
    # 3 units done on rank 1 (its model built), 3 left; set-up 1 s, 0.25 s a unit: rank 1 ends them at 0.75 s,
    # before rank 0 would end its first (1.25 s)
    assert assign_spare(np.array([1, 1, 1, -1, -1, -1]), 1.0, 0.25, 2).tolist() == [1] * 6
    # set-up 0.5 s, 8 left: rank 1 takes two (0.25, 0.5 s); the third ends at 0.75 s on either (ties: the lower
    # rank), and from then on they alternate
    assert assign_spare(np.array([1] * 3 + [-1] * 8), 0.5, 0.25, 2).tolist() == [1] * 5 + [0, 1] * 3
    # nothing done anywhere: each rank pays the set-up once, the units alternate
    assert assign_spare(np.full(4, -1), 0.5, 0.25, 2).tolist() == [0, 1, 0, 1]


def test_plans_of_a_round_go_to_groups_of_ranks_by_hand():
    from stochplan.parallel.pool import group_owners

    # 4 ranks in 2 groups ({0, 2} and {1, 3}), days of 3, 2, 1 s longest first: within a group as assign_days
    assert assign_days(np.array([3.0, 2.0, 1.0]), 2).tolist() == [0, 1, 1]
    assert group_owners(np.array([3.0, 2.0, 1.0]), 4, 2).tolist() == [[0, 2, 2], [1, 3, 3]]
    assert group_owners(np.array([3.0, 2.0, 1.0]), 3, 1).tolist() == [[0, 1, 2]]


def test_a_failed_plan_of_a_round_is_named_with_its_day_and_plan():
    from stochplan.errors import SolverError
    from stochplan.parallel.pool import DayPool

    def solve(j, d):
        if (j, d) == (1, 2):
            raise SolverError("day", "infeasible")
        return np.array([10.0 * j + d])

    pool = DayPool(SerialComm(), 3, label=lambda d: 100 + d)
    assert pool.check(pool.solve_plans(2, lambda j, d: np.array([10.0 * j + d]), 1))[:, 0].tolist() == \
        [0, 1, 2, 10, 11, 12]                        # plan by plan, each in day order
    with pytest.raises(SolverError, match=r"day 102 \(plan 2 of 2 in the round\) on rank 0") as failed:
        pool.check(pool.solve_plans(2, solve, 1))
    assert failed.value.status == "infeasible"


def test_collectives_serial_stand_in():
    check_collectives(SerialComm())


def test_collectives_under_mpiexec():
    proc = subprocess.run([str(MPIEXEC), "-n", "2", sys.executable, str(HERE / "collectives.py")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "OK mpi 2"


def test_collectives_with_forked_workers():
    comm = WorkerComm(3)
    with comm.serving(lambda: check_collectives(comm) or 0):   # a worker's failed check ends it: WorkerLost here
        check_collectives(comm)


# two MPI ranks under mpiexec; two forked workers of a plain run (parallel/workers.py)
TWO_RANKS = [pytest.param({"ranks": 2}, "mpi", id="mpiexec"), pytest.param({"workers": 2}, "fork", id="workers")]


def stochplan_on(*args, ranks=1, workers=None, **kw):
    """`stochplan` on `ranks` MPI ranks or, without mpiexec, on `workers` forked processes."""
    return stochplan(*args, *(["--workers", workers] if workers else []), ranks=ranks, **kw)


@pytest.mark.parametrize("how,backend", TWO_RANKS)
def test_one_and_two_ranks_give_the_same_run(case, serial_run, how, backend):
    out = case.parent / f"two-{backend}"
    proc = stochplan_on("plan", case, "--out", out, **how)
    assert proc.returncode == 0, proc.stderr
    if backend == "mpi":      # rank 1 solved baseline days while rank 0 computed the warm start (no helper here)
        assert re.search(r"baseline: \d+ of 5 days solved on the other ranks during the warm start", proc.stderr)
    one, conv1 = read(serial_run)
    two, conv2 = read(out)
    assert two["timings_s"]["ranks"] == 2 and one["timings_s"]["ranks"] == 1
    assert two["timings_s"]["ranks_backend"] == backend and one["timings_s"]["ranks_backend"] == "serial"
    assert one["benders"] == two["benders"]                  # iterations, bounds, gap: bit for bit
    assert one["storage"] == two["storage"] and one["chargers"] == two["chargers"]
    assert one["economics"] == two["economics"]             # the baseline, wherever its days were solved
    cols = ["iteration", "lower_bound", "upper_bound", "gap"]
    pd.testing.assert_frame_equal(conv1[cols], conv2[cols])
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in serial_run.iterdir())
    for png in serial_run.glob("*.png"):     # on two ranks each drew a share of the figures: the same bytes
        assert (out / png.name).read_bytes() == png.read_bytes(), png.name
    # the AC check ran on the rank that owns each day, and gathered in day order it is the serial one
    ac1, ac2 = pd.read_csv(serial_run / "validation.csv"), pd.read_csv(out / "validation.csv")
    assert len(ac1) == 5 * 8 and ac1.converged.all()          # 5 days × 8 steps
    pd.testing.assert_frame_equal(ac1, ac2, rtol=1e-9)


@pytest.mark.parametrize("how,backend,days", [(*p.values, 1) for p in TWO_RANKS] + [({"ranks": 4}, "mpi", 2)],
                         ids=["mpiexec", "workers", "mpiexec-4"])
def test_two_plans_a_round_are_priced_side_by_side_by_groups_of_ranks_with_the_same_answer(case, how, backend,
                                                                                         days):
    """benders.points_per_round = 2 with twice as many ranks as days: two groups of ranks (of one rank on one
    day, of two on two days) each price one plan of the round; on one rank it prices both. The runs agree bit
    for bit."""
    few = case.parent / f"{days}-days.toml"
    few.write_text(CASE.replace("count = 5", f"count = {days}") + "points_per_round = 2\n")
    size = how.get("ranks", how.get("workers"))
    serial, many = case.parent / f"{days}-days-serial", case.parent / f"{days}-days-{backend}-{size}"
    if not serial.exists():
        proc = stochplan("plan", few, "--out", serial, "-q", "--workers", "1")
        assert proc.returncode == 0, proc.stderr
    proc = stochplan_on("plan", few, "--out", many, **how)
    assert proc.returncode == 0, proc.stderr
    assert "up to 2 plans a round on 2 group(s) of ranks" in proc.stderr
    (one, conv1), (other, conv2) = read(serial), read(many)
    assert other["timings_s"]["ranks"] == size and other["timings_s"]["ranks_backend"] == backend
    assert one["benders"] == other["benders"] and one["storage"] == other["storage"]
    assert one["benders"]["plans_priced"] > one["benders"]["iterations"] + 1      # rounds of two plans
    cols = ["iteration", "lower_bound", "upper_bound", "gap"]
    pd.testing.assert_frame_equal(conv1[cols], conv2[cols])


def test_the_warm_starts_nodes_on_two_mpi_ranks_give_the_one_process_run(case):
    """benders.warm_start_within: the warm start's branch-and-bound also proves the other sitings within the margin,
    its nodes solved on both MPI ranks (each compiles the reduced problem); the run is the one-process run."""
    margin = case.parent / "margin.toml"
    margin.write_text(CASE + "warm_start_within = 0.05\n")
    serial, two = case.parent / "margin-serial", case.parent / "margin-mpi"
    proc = stochplan("plan", margin, "--out", serial, "-q", "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    proc = stochplan("plan", margin, "--out", two, ranks=2)
    assert proc.returncode == 0, proc.stderr
    assert "branch-and-bound nodes on 2 ranks" in proc.stderr
    (one, conv1), (other, conv2) = read(serial), read(two)
    assert one["benders"]["warm_start"]["other_sitings"]
    assert one["benders"] == other["benders"] and one["storage"] == other["storage"]
    assert one["economics"] == other["economics"]      # the baseline's days all solved after the loop here
    cols = ["iteration", "lower_bound", "upper_bound", "gap"]
    pd.testing.assert_frame_equal(conv1[cols], conv2[cols])


def test_the_plan_task_runs_on_every_rank_and_its_failure_is_reported_on_rank_0(case):
    """Benders' plan task (the plan command's figures) gets the final plan and every day's solution on each
    rank; a task that fails on a worker is raised on rank 0 with the worker's traceback, and the workers end."""
    from stochplan.config import load_case
    from stochplan.decomposition import solve_benders
    from stochplan.instance import build_instance

    inst = build_instance(load_case(case))

    def task(rank, size, plan, solutions, history):
        return rank, size, [sol.cost_eur for sol in solutions], plan.tolist(), len(history)

    res = solve_benders(inst, tol=1e-3, comm=WorkerComm(2), plan_task=task)
    costs = [sol.cost_eur for sol in res.solutions]
    mine = (costs, res.x.tolist(), len(res.history))
    assert res.rank_results == [(0, 2, *mine), (1, 2, *mine)]
    # only the first `plan_ranks` take part: the others are not sent the solutions
    res = solve_benders(inst, tol=1e-3, comm=WorkerComm(3), plan_task=task, plan_ranks=2)
    assert [r[:2] for r in res.rank_results] == [(0, 3), (1, 3)]

    def failing(rank, size, plan, solutions, history):
        if rank == 1:
            raise ValueError("a figure failed (injected by the test)")
        return rank

    with pytest.raises(RuntimeError, match=r"(?s)rank 1: the work on the final plan failed.*injected by the test"):
        solve_benders(inst, tol=1e-3, comm=WorkerComm(2), plan_task=failing)


def test_stop_resume_reaches_the_same_optimum(case, serial_run):
    out = case.parent / "resumed"
    stopped = stochplan("plan", case, "--out", out, "--stop-after", "2", ranks=2)
    assert stopped.returncode == 4
    assert "--resume" in stopped.stderr and (out / "checkpoint.json").is_file()
    assert not (out / "results.json").exists()
    state = json.loads((out / "checkpoint.json").read_text())["state"]
    assert state["iteration"] == 2 and len(state["priced"]) == 3
    resumed = stochplan("plan", case, "--resume", out, "-q")
    assert resumed.returncode == 0, resumed.stderr
    full, conv_full = read(serial_run)
    again, conv_again = read(out)
    assert again["benders"] == full["benders"]
    assert again["storage"] == full["storage"] and again["chargers"] == full["chargers"]
    pd.testing.assert_frame_equal(conv_full[["iteration", "lower_bound", "upper_bound"]],
                                  conv_again[["iteration", "lower_bound", "upper_bound"]])


@pytest.mark.parametrize("how,backend", TWO_RANKS)
def test_a_failed_solve_on_one_rank_stops_the_job(case, serial_run, how, backend):
    out = case.parent / f"failing-{backend}"
    # fail one day's 3rd solve in the rank that holds it (after the re-assignment from measured times)
    day = json.loads((serial_run / "results.json").read_text())["scenarios"][3]["day"]
    proc = stochplan_on(day, 3, "--", "plan", case, "--out", out, script=HERE / "fail_on_rank.py", **how)
    assert proc.returncode == 3, proc.stderr
    assignment = re.findall(r"rank (\d): days \[([^\]]*)\]", proc.stderr.split("re-assigned")[1].splitlines()[0])
    owner = next(int(r) for r, days in assignment if str(day) in days.split(", "))
    assert f"solver failure: day {day} on rank {owner}: solver status" in proc.stderr
    assert "NumericalError (injected by the test)" in proc.stderr      # in rank 0's line or the failing rank's
    state = json.loads((out / "checkpoint.json").read_text())["state"]
    last_logged = int(re.findall(r"iter +(\d+)", proc.stderr)[-1])
    assert state["iteration"] == last_logged >= 1     # the last completed iteration, intact
    assert not (out / "results.json").exists()


@pytest.mark.parametrize("how,backend", TWO_RANKS)
def test_a_day_failing_in_the_final_solve_stops_every_rank(case, serial_run, how, backend):
    """After the loop the ranks solve the plan's days exactly, then the figure-drawing ranks wait for the plan:
    a failure there must release them (no hang) and end the run as any solver failure does."""
    out = case.parent / f"failing-final-{backend}"
    day = json.loads((serial_run / "results.json").read_text())["scenarios"][4]["day"]
    proc = stochplan_on(day, 0, "--", "plan", case, "--out", out, script=HERE / "fail_on_rank.py", **how)
    assert proc.returncode == 3, proc.stderr
    assert re.search(rf"solver failure: day {day} on rank \d: solver status", proc.stderr)
    state = json.loads((out / "checkpoint.json").read_text())["state"]
    assert state["finished"] == "gap" and not (out / "results.json").exists()


def test_a_worker_that_dies_stops_the_job_with_a_clear_error(case):
    """A forked worker killed in its 5th solve (the out-of-memory killer, say): rank 0 names it, exit 3, the
    checkpoint of the last complete iteration stays, nothing else is written."""
    out = case.parent / "killed"
    proc = stochplan(-1, 5, "--", "plan", case, "--out", out, "--workers", "2", script=HERE / "fail_on_rank.py")
    assert proc.returncode == 3, proc.stderr
    assert "worker rank 1 ended without answering (exit code 9)" in proc.stderr
    assert "Traceback" not in proc.stderr and "--resume" in proc.stderr
    assert json.loads((out / "checkpoint.json").read_text())["state"]["iteration"] >= 1
    assert not (out / "results.json").exists()


def test_ctrl_c_to_the_process_group_stops_a_run_on_workers_cleanly(case):
    """A terminal's Ctrl-C reaches rank 0 and its forked workers alike: the workers ignore it, rank 0 ends the
    iteration, writes the checkpoint and stops them; exit 130, no traceback, no process of the group left."""
    import os
    import signal
    import time

    out = case.parent / "ctrl-c"
    proc = subprocess.Popen([sys.executable, "-m", "stochplan", "plan", str(case), "--out", str(out), "--workers",
                             "2", "--tol", "1e-9"], stderr=subprocess.PIPE, text=True, start_new_session=True)
    for line in proc.stderr:
        if re.search(r"iter +2 ", line):
            os.killpg(proc.pid, signal.SIGINT)
            break
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 130, err
    assert "stopped by SIGINT" in err and "Traceback" not in err
    assert json.loads((out / "checkpoint.json").read_text())["state"]["iteration"] >= 2
    time.sleep(0.5)
    with pytest.raises(ProcessLookupError):
        os.killpg(proc.pid, 0)


def test_dry_run_prints_the_assignment(case):
    proc = stochplan("plan", case, "--dry-run", ranks=2)
    assert proc.returncode == 0, proc.stderr
    assert "2 rank(s)" in proc.stdout and "rank 0: days" in proc.stdout and "rank 1: days" in proc.stdout
    assert not (case.parent / "results").exists()


@pytest.mark.parametrize("env,says", [
    ({"SLURM_STEP_NUM_TASKS": "2", "SLURM_PROCID": "0"}, True),      # srun without a PMI: first task says why
    ({"SLURM_STEP_NUM_TASKS": "2", "SLURM_PROCID": "1"}, False),     # the other task stops quietly
    # Open MPI's mpirun starting an MPICH-built mpi4py: each process initialises as a singleton
    ({"OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_RANK": "0"}, True),
])
def test_tasks_that_mpi_did_not_join_stop_before_any_solve(case, tmp_path, env, says):
    import os

    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "stochplan", "plan", str(case), "--out", str(out)],
                          capture_output=True, text=True, timeout=300, env={**os.environ, **env})
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.startswith("stochplan")]   # mpi4py warns too
    assert "Traceback" not in proc.stderr
    if says:
        assert len(lines) == 1 and "2 tasks were started but MPI joined 1 of them" in lines[0]
        assert "--mpi=pmi2" in lines[0] and "--mpi=pmix" in lines[0]
    else:
        assert lines == []
    assert not out.exists()


def test_a_batch_scripts_own_commands_are_not_mistaken_for_tasks(case):
    """Inside an sbatch script (outside srun) SLURM_NTASKS is the job's size, not this process's."""
    import os

    proc = subprocess.run([sys.executable, "-m", "stochplan", "plan", str(case), "--dry-run"], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "SLURM_NTASKS": "8", "SLURM_PROCID": "0"})
    assert proc.returncode == 0, proc.stderr


def test_days_sharing_one_model_give_the_same_run_on_one_and_two_ranks(tmp_path):
    """48 days: from SHARED_FROM_DAYS on a rank every process prices its days through one shared model, the
    baseline too; the answers must not depend on which days a rank holds."""
    from stochplan.formulations.operation import SHARED_FROM_DAYS

    days = 2 * SHARED_FROM_DAYS
    path = tmp_path / "case.toml"
    path.write_text(CASE.replace("count = 5", f"count = {days}"))
    one, two = tmp_path / "one", tmp_path / "two"
    for out, how in ((one, {"workers": 1}), (two, {"ranks": 2})):
        proc = stochplan_on("plan", path, "--out", out, "-q", "--no-validate", **how)
        assert proc.returncode == 0, proc.stderr
    (doc1, conv1), (doc2, conv2) = read(one), read(two)
    assert len(doc1["scenarios"]) == days
    assert doc1["benders"] == doc2["benders"]
    assert doc1["storage"] == doc2["storage"] and doc1["chargers"] == doc2["chargers"]
    assert doc1["economics"] == doc2["economics"]
    cols = ["iteration", "lower_bound", "upper_bound", "gap"]
    pd.testing.assert_frame_equal(conv1[cols], conv2[cols])


def test_a_helper_process_reports_its_failure_and_ends_when_the_work_beside_it_fails(tmp_path):
    """parallel/helper.alongside: the helper's error comes back with its traceback; an error in the work beside
    it ends the helper before it goes on (a figure half drawn into a folder about to be removed)."""
    import time

    from stochplan.parallel.helper import alongside

    def broken():
        raise ValueError("figure broke")

    with pytest.raises(RuntimeError, match="(?s)helper process failed.*ValueError: figure broke"):
        with alongside(broken, helper=True):
            pass

    def slow():
        time.sleep(60)
        (tmp_path / "late").write_text("written after the error")

    with pytest.raises(KeyError, match="the work beside it"):
        with alongside(slow, helper=True):
            raise KeyError("the work beside it")
    time.sleep(0.2)
    assert not (tmp_path / "late").exists()

    done = []
    with alongside(lambda: done.append("here"), helper=False):      # no helper: the task runs here, after
        assert not done
    assert done == ["here"]


def test_background_side_work_runs_only_on_idle_cpu_time():
    """A background helper (the baseline beside forked workers) takes no CPU time the ranks want: Linux's
    SCHED_IDLE policy; a normal helper (half of the figures, on the critical path) keeps the parent's."""
    import os

    from stochplan.parallel.helper import Helper

    assert Helper(lambda: os.sched_getscheduler(0), background=True).result() == os.SCHED_IDLE
    assert Helper(lambda: os.sched_getscheduler(0)).result() == os.sched_getscheduler(0)


def test_two_helpers_from_both_ends_do_every_unit_once():
    """parallel/helper.BothEnds: a background helper takes the units from the front; a second one, forked while it
    works, from the back. Together they do every unit exactly once. A second pays only when what is left costs
    more than its set-up, as the front measured them."""
    import time

    from stochplan.parallel.helper import BothEnds, Helper, second_pays

    ends = BothEnds(12)

    def unit(u):
        time.sleep(0.05)
        return u * u

    front = Helper(lambda: ends.run(unit), background=True)
    back = Helper(lambda: ends.run(unit, back=True))
    first, second = front.result(), back.result()
    assert sorted(first) + sorted(second) == list(range(12))        # disjoint, and every unit
    assert first and second and max(first) < min(second)             # each from its own end
    assert all(value == u * u for part in (first, second) for u, value in part.items())
    assert ends.left() == 0 and not ends.worth_a_second()
    assert second_pays(10, 0, 0.0, 0.0) and second_pays(10, 1, 0.4, 0.0)      # nothing to weigh yet
    assert second_pays(10, 3, 0.45, 0.1) and not second_pays(5, 3, 0.45, 0.1)   # set-up 0.4 s, 0.05 s a unit
    assert not second_pays(1, 0, 0.0, 0.0)


def test_a_second_baseline_helper_gives_the_baseline_of_one_process(caplog):
    """workflows/final.FinalDay: where the baseline's helper still has days to go when the final plan's work
    begins, a second helper takes the days left from the other end; the baseline is the same, bit for bit, as
    one process solving every day (economics.baseline_solutions)."""
    import logging
    from types import SimpleNamespace

    from stochplan.config import default_case_path, load_case
    from stochplan.instance import build_instance
    from stochplan.workflows.economics import baseline_solutions
    from stochplan.workflows.final import FinalDay

    inst = build_instance(load_case(default_case_path()), k=10)
    alone = baseline_solutions(inst)
    caplog.set_level(logging.INFO, logger="stochplan.workflows.final")
    with FinalDay(inst, validate=False, helper=True) as final:
        assert final.share_baseline()          # just started: nothing timed yet, ten days left
        assert not final.share_baseline()      # at most one more
        validation, both = final.assemble(SimpleNamespace(day_results=[{"ac": None}] * 10))
    assert validation is None
    helped = re.search(r"(\d+) of 10 days solved by a second helper", caplog.text)
    assert helped and 1 <= int(helped.group(1)) < 10
    np.testing.assert_array_equal(both.charger_mw, alone.charger_mw)
    for ours, theirs in zip(both.solutions, alone.solutions, strict=True):
        assert ours.cost_eur == theirs.cost_eur
        for key, value in theirs.dispatch.items():
            np.testing.assert_array_equal(ours.dispatch[key], value, err_msg=key)
