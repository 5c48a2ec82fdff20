"""A user's files are sacred: output directories, locks, resume integrity, stops anywhere, bad plan files.

One test per defect of the data-safety issue; the data-loss ones run in a temporary directory."""
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import make_net, save_net
from stochplan.cli import main
from stochplan.errors import InputError
from stochplan.ev.sessions import read_sessions_csv
from stochplan.outdir import MANIFEST, OutputDir
from test_cli import write_case

HERE = Path(__file__).parent


def stochplan(*args, cwd=None, script=None):
    cmd = [sys.executable] + ([str(script)] if script else ["-m", "stochplan"]) + [str(a) for a in args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=600)


def read(out: Path):
    return json.loads((out / "results.json").read_text()), pd.read_csv(out / "convergence.csv")


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """The CLI's small case and its uninterrupted run (the reference for every resume below)."""
    root = tmp_path_factory.mktemp("safe")
    case = write_case(root)
    out = root / "reference"
    assert main(["plan", str(case), "--out", str(out), "--tol", "1e-5", "-q"]) == 0
    return case, out


# ------------------------------------------------------------------ 1. never delete what the run did not write

def test_out_as_the_working_directory_or_a_parent_is_refused_and_nothing_is_touched(tmp_path, monkeypatch, capsys):
    case = write_case(tmp_path)
    (tmp_path / "notes.txt").write_text("mine")
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    for out in (".", "..", str(tmp_path)):
        assert main(["plan", str(case), "--out", out, "--max-iter", "2", "--no-validate"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "working directory or one of its parents" in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_directory_of_someone_elses_files_is_refused(tmp_path, capsys):
    theirs = tmp_path / "mine"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("mine")
    assert main(["plan", str(write_case(tmp_path)), "--out", str(theirs), "--no-validate"]) == 2
    assert "not empty and was not written by stochplan" in capsys.readouterr().err
    assert [p.name for p in theirs.iterdir()] == ["notes.txt"]


def test_rerun_replaces_only_what_stochplan_wrote(small, tmp_path):
    case, _ = small
    out = tmp_path / "out"
    assert main(["plan", str(case), "--out", str(out), "-q"]) == 0
    assert (out / "validation.csv").exists() and (out / MANIFEST).exists()
    (out / "my_notes.txt").write_text("keep me")       # a user adds a file to an output directory
    assert main(["plan", str(case), "--out", str(out), "--no-validate", "-q"]) == 0
    assert (out / "my_notes.txt").read_text() == "keep me"
    assert not (out / "validation.csv").exists()        # the earlier run's file, not this run's: gone
    owned = json.loads((out / MANIFEST).read_text())["files"]
    assert "my_notes.txt" not in owned and "results.json" in owned and "checkpoint.json" in owned
    assert not [p for p in out.iterdir() if p.name.startswith(".staging")]
    assert oct((out / "results.json").stat().st_mode)[-3:] == oct(0o666 & ~_umask())[-3:]
    assert oct(out.stat().st_mode)[-3:] == oct(0o777 & ~_umask())[-3:]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_unsafe_case_names_are_refused(tmp_path, capsys):
    for name in ("", "../../x", ".hidden", "a/b"):
        case = write_case(tmp_path)
        case.write_text(case.read_text().replace('name = "cli-small"', f'name = "{name}"'))
        assert main(["plan", str(case)]) == 2
        assert "name: " in capsys.readouterr().err
    assert not (tmp_path / "results").exists()


# ------------------------------------------------------------------ 2. one run per directory

def test_a_second_run_into_a_locked_directory_is_refused_naming_the_holder(small, tmp_path, capsys):
    case, _ = small
    held = OutputDir.claim(tmp_path / "busy")
    try:
        with pytest.raises(InputError, match=rf"in use by another stochplan run \(pid {os.getpid()}\)"):
            OutputDir.claim(tmp_path / "busy")
        assert main(["plan", str(case), "--out", str(tmp_path / "busy"), "-q"]) == 2
        assert f"(pid {os.getpid()})" in capsys.readouterr().err
    finally:
        held.release()
    assert main(["plan", str(case), "--out", str(tmp_path / "busy"), "--no-validate", "-q"]) == 0


# ------------------------------------------------------------------ 3. resume refuses changed inputs

def test_resume_refuses_a_changed_override_or_referenced_file(tmp_path, capsys):
    case = write_case(tmp_path)
    out = tmp_path / "out"
    assert main(["plan", str(case), "--out", str(out), "--stop-after", "1", "-q"]) == 4
    capsys.readouterr()
    net = make_net([(0, 1), (1, 2)], {1: (0.8, 0.1), 2: (0.5, 0.1)}, max_i_ka=0.2)   # the network file changes
    save_net(net, tmp_path / "net.json")
    assert main(["plan", str(case), "--resume", str(out)]) == 2
    assert "net.json' changed since" in capsys.readouterr().err
    assert main(["plan", str(case), "--resume", str(out), "--out", str(tmp_path / "elsewhere")]) == 2
    assert "--out: a resumed run writes into its --resume directory" in capsys.readouterr().err


def test_the_printed_continue_command_resumes_exactly(small, tmp_path):
    case, reference = small
    out = tmp_path / "stopped"
    stopped = stochplan("plan", case, "--out", out, "--tol", "1e-5", "--stop-after", "2")
    assert stopped.returncode == 4, stopped.stderr
    line = stopped.stderr.strip().splitlines()[-1]
    assert re.search(r"checkpoint \(iteration 2\) in .*checkpoint.json; continue with: ", line), line
    command = shlex.split(line.split("continue with: ")[1])
    assert command[:2] == ["stochplan", "plan"] and "--tol" in command
    resumed = stochplan(*command[1:])
    assert resumed.returncode == 0, resumed.stderr
    full, conv_full = read(reference)
    again, conv_again = read(out)
    assert again["benders"] == full["benders"] and again["storage"] == full["storage"]
    pd.testing.assert_frame_equal(conv_full[["iteration", "lower_bound", "upper_bound"]],
                                  conv_again[["iteration", "lower_bound", "upper_bound"]])


def test_a_damaged_checkpoint_is_an_input_error(small, tmp_path, capsys):
    case, _ = small
    out = tmp_path / "out"
    assert main(["plan", str(case), "--out", str(out), "--stop-after", "1", "-q"]) == 4
    capsys.readouterr()
    path = out / "checkpoint.json"
    good = json.loads(path.read_text())
    for damage, expect in ((lambda s: s["state"]["priced"][0][1].pop(), r"state.priced\[0\]\[1\] must be a list"),
                           (lambda s: s["state"].pop("best_x"), "state.best_x is missing"),
                           (lambda s: s["state"]["history"].pop(), "state.history must have one entry"),
                           (lambda s: s["state"].__setitem__("lb", "low"), "state.lb must be a number"),
                           (lambda s: s["state"]["stab"].__setitem__("gamma", "x"), "state.stab.gamma must be"),
                           (lambda s: s["state"]["stab"].__setitem__("site_centres", {"0,1": [1.0, [0.0]]}),
                            r"state.stab.site_centres.0,1 must be a list of \d+ numbers")):
        state = json.loads(json.dumps(good))
        damage(state)
        path.write_text(json.dumps(state))
        assert main(["plan", str(case), "--resume", str(out)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "is damaged" in err[0] and re.search(expect, err[0]), err


# ------------------------------------------------------------------ 4 and 9. stops anywhere

def test_sigterm_during_the_ac_check_then_resume_gives_the_same_plan(small, tmp_path):
    case, reference = small
    out = tmp_path / "out"
    proc = stochplan("SIGTERM", "ac-check", "--", "plan", case, "--out", out, "--tol", "1e-5",
                     script=HERE / "interrupting.py")
    assert proc.returncode == 143, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("stochplan: stopped by SIGTERM; checkpoint (iteration ") and "Traceback" not in proc.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted([MANIFEST, ".stochplan.lock", "checkpoint.json"])
    resumed = stochplan(*shlex.split(last.split("continue with: ")[1])[1:])
    assert resumed.returncode == 0, resumed.stderr
    assert "no further iteration" in resumed.stderr
    full, conv_full = read(reference)
    again, conv_again = read(out)
    assert again["benders"] == full["benders"] and again["objective"] == full["objective"]
    assert again["storage"] == full["storage"] and again["chargers"] == full["chargers"]
    assert len(conv_again) == len(conv_full)


@pytest.mark.parametrize("name,code", [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_stop_while_loading_ends_with_one_line_even_when_swallowed(tmp_path, name, code):
    out = tmp_path / "out"
    proc = stochplan(name, "loading", "--", "plan", write_case(tmp_path), "--out", out,
                     script=HERE / "interrupting.py")
    assert proc.returncode == code, proc.stderr
    assert proc.stderr.strip() == f"stochplan: stopped by {name}; nothing was written"
    assert not out.exists()


# ------------------------------------------------------------------ 5, 6, 10: checks before any solve

def test_out_is_checked_before_any_solve(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    for out, says in ((tmp_path / "file", "is a file, not a directory"), (tmp_path / "file" / "sub", "is a file")):
        assert main(["plan", str(write_case(tmp_path)), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert says in err and "iter" not in err


def test_infinite_numbers_are_refused(tmp_path, capsys):
    case = write_case(tmp_path, sell="inf")
    assert main(["plan", str(case)]) == 2
    assert "prices.sell_eur_per_mwh[0]: is inf" in capsys.readouterr().err
    case = write_case(tmp_path, energy_cost="inf")
    assert main(["plan", str(case)]) == 2
    assert "storage.energy_cost_eur_per_mwh: must be a finite number" in capsys.readouterr().err


def test_dry_run_into_a_closed_pipe_has_no_traceback(tmp_path):
    proc = subprocess.run(f"{shlex.quote(sys.executable)} -m stochplan plan {shlex.quote(str(write_case(tmp_path)))} "
                          "--dry-run | head -c 1", shell=True, capture_output=True, text=True, timeout=300)
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr


# ------------------------------------------------------------------ 7. plan files of the wrong shape

@pytest.mark.parametrize("edit,says", [
    (lambda d: d.pop("storage"), "storage is missing"),
    (lambda d: d["storage"].append({"bus": 2}), r"storage\[\d\].energy_mwh is missing"),
    (lambda d: d["chargers"][0].__setitem__("capacity_mw", "big"), r"chargers\[0\].capacity_mw must be a finite"),
    (lambda d: d.__setitem__("scenarios", []), "scenarios is empty"),
    (lambda d: d.__setitem__("objective", 3), "objective must be an object"),
])
def test_validate_refuses_a_plan_file_of_the_wrong_shape(small, tmp_path, capsys, edit, says):
    _, reference = small
    out = tmp_path / "plan"
    out.mkdir()
    doc = json.loads((reference / "results.json").read_text())
    edit(doc)
    (out / "results.json").write_text(json.dumps(doc))
    (out / MANIFEST).write_text(json.dumps({"files": ["results.json"]}))
    assert main(["validate", str(out), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("stochplan: error: DIR (") and re.search(says, err[0]), err


# ------------------------------------------------------------------ 8. impossible session records

def test_sessions_above_the_battery_or_at_no_station_are_refused(tmp_path):
    path = tmp_path / "s.csv"
    pd.DataFrame({"bus": [2, 2, 5], "plug_in": ["2016-03-01 18:00"] * 3, "plug_out": ["2016-03-02 07:00"] * 3,
                  "energy_kwh": [20.0, 45.0, 10.0]}).to_csv(path, index=False)
    with pytest.raises(InputError, match=r"2 impossible records \(row 3: energy above the 40 kWh battery .*; "
                                         r"row 4: bus has no charging station \(stations at \[2\]\)"):
        read_sessions_csv(path, charger_kw=3.6, battery_kwh=40.0, efficiency=0.9, station_buses={2})
