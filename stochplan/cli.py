"""Command line.

    stochplan plan [CASE.toml] [--out DIR] [--method benders|ef] [--k K] [--tol] [--max-iter] [--time-limit] ...
    stochplan reduce [CASE.toml] [--k K] [--out DIR]
    stochplan evaluate [CASE.toml] --plan DIR/results.json [--out DIR2]
    stochplan validate DIR [--case CASE.toml]
    stochplan ev-aggregation [CASE.toml] [--fleet-sizes 10,25,50,100,250,500] [--out DIR]
    stochplan strategies CASE.toml [--out DIR]

Exit codes: 0 done; 1 Benders stopped (iteration cap, time limit) above the tolerance, best plan written;
2 bad input (one line naming the field, before any solve); 3 solver failure (with the solver's status);
4 stopped by --stop-after; 130/143 stopped by SIGINT/SIGTERM (checkpoint written, resume with --resume).

Under mpiexec/mpirun/srun every rank runs this; only rank 0 logs and writes files.
"""
from __future__ import annotations

import argparse
import gc
import json
import logging
import multiprocessing
import os
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from . import interrupts, outdir
from .errors import InputError, SolverError
from .outdir import OutputDir
from .parallel import LauncherError, WorkerLost, can_fork, get_comm

log = logging.getLogger("stochplan")


def _subcommand(sub, name: str, help: str, out_suffix: str, required_case: str | None = None):
    """A subcommand with the usual [CASE] (or a required CASE described by `required_case`), --out and -q."""
    cmd = sub.add_parser(name, help=help)
    if required_case is None:
        cmd.add_argument("case", nargs="?", help="case file (TOML); default scenarios/ieee33.toml")
    else:
        cmd.add_argument("case", help=required_case)
    cmd.add_argument("--out", help=f"output directory (default results/<case name>{out_suffix})")
    cmd.add_argument("-q", "--quiet", action="store_true")
    return cmd


def _add_workers(cmd, what: str) -> None:
    cmd.add_argument("--workers", type=int, metavar="N",
                     help=f"without mpiexec: {what} on N forked processes (default: one per usable core, at most "
                          "one per day; 1: this process alone); the answer is the same for any N")


def _check_workers(args, comm) -> None:
    if args.workers is not None and args.workers < 1:
        raise InputError("--workers", f"must be ≥ 1, got {args.workers}")
    if args.workers is not None and comm.size > 1:
        raise InputError("--workers", "under mpiexec the ranks are MPI's; drop --workers")
    if args.workers is not None and args.workers > 1 and not can_fork():
        raise InputError("--workers", "forked workers need Linux; on this system run under mpiexec -n N")


def _local_ranks(comm, workers: int | None, at_once: int):
    """MPI's ranks under a launcher, else forked workers for up to `at_once` solves side by side
    (parallel/workers.local_ranks). Called once the instance is built: everything made so far (modules, the
    instance) lives until the end, so the cyclic garbage collector stops scanning it (`gc.freeze`, as Python's
    docs advise before forking). Measured on the default case: 0.3 s of collections less in each forked worker,
    0.25 s less on rank 0."""
    gc.freeze()
    if comm.size > 1:
        return comm
    from .parallel.workers import local_ranks
    return local_ranks(workers, at_once)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stochplan", description="Storage and EV-charging planning on radial "
                                     "feeders: two-stage stochastic SOCP, Benders decomposition.")
    sub = parser.add_subparsers(dest="command", required=True)
    plan = sub.add_parser("plan", help="plan storage and chargers for a case")
    plan.add_argument("case", nargs="?", help="case file (TOML); default scenarios/ieee33.toml")
    plan.add_argument("--out", help="output directory (default results/<case name>)")
    plan.add_argument("--method", choices=("benders", "ef"),
                      help="Benders decomposition or the extensive form (exact: branch-and-bound over the sites); "
                           "default: the case's plan.method, benders unless it says ef")
    plan.add_argument("--k", type=int, help="representative days (overrides scenarios.k; year scenarios)")
    plan.add_argument("--tol", type=float, help="relative Benders gap to stop at (default from case, 1e-4)")
    plan.add_argument("--max-iter", type=int, help="Benders iteration cap")
    plan.add_argument("--time-limit", type=float, help="Benders time limit [s]")
    plan.add_argument("--resume", metavar="DIR", help="continue from DIR/checkpoint.json of an earlier run")
    plan.add_argument("--stop-after", type=int, metavar="N", help="stop after N iterations (checkpoint kept)")
    _add_workers(plan, "Benders prices its days")
    plan.add_argument("--no-validate", action="store_true",
                      help="skip the AC power-flow check of every planned step (pandapower runpp)")
    plan.add_argument("--dry-run", action="store_true",
                      help="validate the case and print the rank/day assignment without solving")
    plan.add_argument("-q", "--quiet", action="store_true", help="log warnings only")

    _subcommand(sub, "reduce", "reduce the case's year of days to K representatives (K-Medoids)", "-reduce") \
        .add_argument("--k", type=int, help="representative days (default: scenarios.k)")
    study = _subcommand(sub, "study", "plan the case at several controllable EV shares", "-study")
    study.add_argument("--controllable-share", default="0.2,0.5,0.8", help="comma-separated shares in [0, 1]")
    _add_workers(study, "each plan's Benders prices its days")
    evaluate = _subcommand(sub, "evaluate", "solve every day of the year with a plan fixed (out of sample)",
                           "-evaluate")
    evaluate.add_argument("--plan", required=True, help="results.json of `stochplan plan`")
    _add_workers(evaluate, "the days are solved")
    _subcommand(sub, "ev-aggregation", "envelope vs interval vs individual EV regions across fleet sizes",
                "-ev-aggregation") \
        .add_argument("--fleet-sizes", default="10,25,50,100,250,500", help="comma-separated EV counts")
    _subcommand(sub, "strategies", "uncoordinated / smart / V2G / reactive-support charging, each checked by AC "
                "power flow (e.g. scenarios/cigre_mv.toml)", "-strategies",
                required_case="case file (TOML) with EV stations; every EV is scheduled")

    validate = sub.add_parser("validate", help="AC power-flow check (pandapower) of a plan's days, step by step")
    validate.add_argument("dir", help="output directory of `stochplan plan` (validation.csv is written there)")
    validate.add_argument("--case", help="case file (default: the one named in DIR/results.json)")
    validate.add_argument("-q", "--quiet", action="store_true")
    return parser


@dataclass
class _Context:
    """What a stop or a failure message needs to say: the directory claimed, the checkpoint, how to go on."""
    out: OutputDir | None = None
    checkpoint: Path | None = None
    continue_cmd: str | None = None

    def checkpoint_note(self) -> str:
        if self.checkpoint is None or not self.checkpoint.is_file():
            return "; no checkpoint was written"
        try:
            iteration = json.loads(self.checkpoint.read_text())["state"]["iteration"]
        except (OSError, ValueError, KeyError, TypeError):
            iteration = "?"
        return (f"; checkpoint (iteration {iteration}) in {self.checkpoint}; continue with: {self.continue_cmd}")


def run() -> None:
    """The console script (and `python -m stochplan`): `main`, then the process ends at once where no MPI was
    started. By then every output is written and closed and every child process joined; what is left is the
    interpreter freeing a run's objects one by one, which took 0.5–1.1 s after a 9–10 s default-case command
    (measured side by side). Under MPI the normal exit runs MPI's finalize."""
    code = main()
    if "mpi4py.MPI" in sys.modules:
        sys.exit(code)
    for child in multiprocessing.active_children():    # none expected; never leave one behind
        child.terminate()
        child.join()
    logging.shutdown()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, OSError):                  # the reader went away (see `main`)
        pass
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    previous = interrupts.install()
    ctx = _Context()
    rank = 0
    try:
        interrupts.check()

        comm = get_comm()
        rank = comm.rank
        quiet = args.quiet or comm.rank != 0
        logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, format="%(asctime)s %(message)s",
                            datefmt="%H:%M:%S", stream=sys.stderr, force=True)
        if comm.rank != 0:
            logging.disable(logging.CRITICAL)
        logging.getLogger("pyomo").setLevel(logging.WARNING)
        code = {"plan": _plan, "reduce": _reduce, "evaluate": _evaluate, "study": _study,
                "validate": _validate, "ev-aggregation": _ev_aggregation,
                "strategies": _strategies}[args.command](args, comm, ctx)
        sys.stdout.flush()               # a closed pipe shows here, inside the handlers below
        return code
    except InputError as exc:
        if ctx.out is not None:
            ctx.out.abandon()
        if rank == 0:
            print(f"stochplan: error: {exc}", file=sys.stderr)
        return 2
    except LauncherError as exc:           # every task gets here; the launcher's first one says why
        if exc.first_task:
            print(f"stochplan: error: {exc}", file=sys.stderr)
        return 2
    except SolverError as exc:
        print(f"stochplan: solver failure: {exc}" + (ctx.checkpoint_note() if ctx.checkpoint else ""),
              file=sys.stderr)
        return 3
    except WorkerLost as exc:
        print(f"stochplan: error: {exc}" + (ctx.checkpoint_note() if ctx.checkpoint else ""), file=sys.stderr)
        return 3
    except interrupts.Interrupted as stop:
        if rank == 0:
            print(f"stochplan: stopped by {stop.name}" + (ctx.checkpoint_note() if ctx.checkpoint else
                                                          "; nothing was written"), file=sys.stderr)
        return stop.code
    except BrokenPipeError:
        # the reader went away (`stochplan plan --dry-run | head -1`): say nothing more, like other Unix tools
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    finally:
        if ctx.out is not None:
            ctx.out.release()
        interrupts.restore(previous)
        gc.unfreeze()                    # (`_local_ranks`) for a caller that goes on after this command


def _plan_out(args, case) -> Path:
    """--out, else the --resume directory, else results/<case name>; a resume continues in its own directory."""
    if args.resume and args.out and Path(args.out).resolve() != Path(args.resume).resolve():
        raise InputError("--out", "a resumed run writes into its --resume directory; drop --out")
    return Path(args.out or args.resume or Path("results") / case.name)


def _continue_command(args, case, out: Path) -> str:
    """The command that continues this run exactly: same case, same overrides, same options."""
    words = ["stochplan", "plan", str(case.path), "--resume", str(out)]
    for flag, value in (("--k", args.k), ("--tol", args.tol), ("--max-iter", args.max_iter),
                        ("--time-limit", args.time_limit)):
        if value is not None:
            words += [flag, str(value)]
    words += ["--no-validate"] if args.no_validate else []
    words += ["--method", args.method] if args.method != case.plan.method else []
    return " ".join(shlex.quote(w) for w in words)


def _check_plan_options(args, comm) -> None:
    if args.tol is not None and not args.tol > 0:
        raise InputError("--tol", f"must be > 0, got {args.tol}")
    if args.max_iter is not None and args.max_iter < 1:
        raise InputError("--max-iter", f"must be ≥ 1, got {args.max_iter}")
    if args.time_limit is not None and not args.time_limit > 0:
        raise InputError("--time-limit", f"must be > 0, got {args.time_limit}")
    if args.stop_after is not None and args.stop_after < 1:
        raise InputError("--stop-after", f"must be ≥ 1, got {args.stop_after}")
    _check_workers(args, comm)


def _choose_method(args, comm, case) -> None:
    """--method, else the case's plan.method; the extensive form's limits checked against it."""
    field = "--method" if args.method else "plan.method"
    args.method = args.method or case.plan.method
    if args.method != "ef":
        return
    also = "" if field == "--method" else " (or pass --method benders)"
    if comm.size > 1:
        raise InputError(field, "the extensive form is one problem on one rank; run it without mpiexec" + also)
    if args.resume or args.stop_after:
        raise InputError("--resume" if args.resume else "--stop-after",
                         f"applies to Benders runs, not the extensive form ({field} = ef){also}")


def _plan(args, comm, ctx: _Context) -> int:
    from .config import default_case_path, load_case
    from .decomposition import checkpoint

    _check_plan_options(args, comm)
    case = load_case(args.case or default_case_path())
    _check_k(args.k, case)
    _choose_method(args, comm, case)
    out_path = _plan_out(args, case)
    if comm.rank == 0 and not args.dry_run:
        outdir.check(out_path)
    fingerprint = checkpoint.fingerprint(case, {"k": args.k})
    saved = checkpoint.load(Path(args.resume), fingerprint) if args.resume else None   # a bad one stops here
    interrupts.check()

    # Everything below the imports of the heavy stack; input is fully checked before the first solve.
    from .instance import build_instance

    inst = build_instance(case, k=args.k)
    interrupts.check()                   # SimBench's loader swallows exceptions, a stop among them
    # forked workers are started when Benders starts, or after the EF's root node
    comm = _local_ranks(comm, args.workers, _at_once(args.method, inst))
    if saved is not None:
        from .decomposition.benders import resume_state
        saved = resume_state(saved, inst, Path(args.resume) / checkpoint.NAME)
    if args.dry_run:
        from .decomposition.evaluator import DayEvaluator
        if comm.rank == 0:
            print(f"case '{case.name}' is valid: {inst.ref.n_bus} buses, {len(inst.days)} days × "
                  f"{case.time.steps_per_day} steps, {inst.first.n_x} first-stage variables; {comm.size} rank(s); "
                  f"output {out_path}")
            if args.method == "benders":
                print("initial assignment (re-balanced from measured times after the first priced plan): "
                      + DayEvaluator(inst, comm).describe())
        return 0
    if comm.rank == 0:
        ctx.out = OutputDir.claim(out_path)
        if args.method == "benders":
            ctx.out.register(checkpoint.NAME)
            ctx.checkpoint = ctx.out.path / checkpoint.NAME
            ctx.continue_cmd = _continue_command(args, case, out_path)
    out = ctx.out
    log.info("case '%s': %d buses, %d days × %d steps, %d storage candidates, %d charger stations → %s",
             case.name, inst.ref.n_bus, len(inst.days), case.time.steps_per_day, len(inst.ref.storage_bus),
             len(inst.ref.station_bus), out_path)
    from .parallel.helper import helper_available
    from .workflows.final import FinalDay
    # the baseline in a helper at the lowest priority: beside one process it has a core of its own; beside forked
    # workers it runs on what they leave idle (the master's solves, the wait for the slowest rank)
    with FinalDay(inst, validate=not args.no_validate, helper=helper_available()) as final:
        if args.method == "ef":
            from .formulations.extensive import solve_extensive
            res = solve_extensive(inst, comm=comm)
            log.info("extensive form: %.2f EUR/year, %d node(s) (%s), %.1f s", res.upper_bound,
                     res.timings["nodes"], res.timings["siting"], res.timings["total_s"])
        else:
            from .decomposition import solve_benders
            from .report.plots import drawing_ranks
            res = solve_benders(inst, tol=args.tol, max_iter=args.max_iter, time_limit_s=args.time_limit,
                                checkpoint_dir=out.path if out else None, resume=saved, stop_after=args.stop_after,
                                fingerprint=fingerprint, comm=comm, day_task=final,   # each rank its own days
                                plan_task=final.figures, plan_ranks=drawing_ranks(inst, comm.size),
                                spare=final.spare_work)
            if comm.rank != 0:
                return res                       # the exit code rank 0 chose
            if res.stop_reason == "stop_after":
                from .decomposition.benders import EXIT_CODES
                print(f"stochplan: stopped (--stop-after {args.stop_after})" + ctx.checkpoint_note(),
                      file=sys.stderr)
                return EXIT_CODES[res.stop_reason]
        return _finish_plan(inst, res, out, out_path, final)


def _at_once(method: str, inst) -> int:
    """How many solves a plan can run side by side: Benders' days times the plans of a round, or the EF's
    branch-and-bound nodes (a level of the tree holds at most 2^candidates; one node without binary siting)."""
    if method == "benders":
        return len(inst.days) * inst.case.benders.points_per_round
    return 2 ** min(inst.first.n_storage, 10) if inst.first.siting == "binary" else 1


def _finish_plan(inst, res, out: OutputDir, out_path: Path, final) -> int:
    """AC check, economics, files; → the exit code (1 when Benders stopped above its tolerance)."""
    from .parallel.helper import helper_available
    from .report.results import write_results
    from .report.validation import summary
    from .workflows.economics import economics

    validation, baseline = final.assemble(res)
    if validation is not None:
        _log_validation(summary(validation))
    interrupts.check()
    econ = economics(inst, res, baseline)
    log.info("against the baseline (%s): net benefit %.2f EUR/year, carbon %+.1f %%", econ["baseline_definition"],
             econ["net_benefit"], -econ["carbon_reduction_percent"])
    drawn = {name: png for share in res.rank_results or [] for name, png in share.items()}
    doc = write_results(inst, res, out, retries=int(res.timings.get("solver_retries", 0)),
                        validation=validation, econ=econ, helper=helper_available(), drawn=drawn)
    obj = doc["objective"]
    log.info("total %.2f EUR/year (investment %.2f, operation %.2f, penalty %.2f); wrote %s",
             obj["total"], obj["investment"], obj["operation"], obj["penalty"], out_path)
    for s in doc["storage"]:
        log.info("  storage at bus %d: %.3f MWh, %.3f MW", s["bus"], s["energy_mwh"], s["power_mw"])
    for c in doc["chargers"]:
        log.info("  chargers at bus %d: %.3f MW", c["bus"], c["capacity_mw"])
    if not res.converged:
        log.warning("Benders stopped (%s) at gap %.2e above the tolerance; results are the best plan found",
                    res.stop_reason, res.gap)
        return 1
    return 0


def _log_validation(v: dict) -> None:
    log.info("AC check of %d steps: max |V_ac − V_model| %.2e pu, max loading diff %.2e, %d violations, "
             "%d steps not converged", v["ac_steps"], v["ac_max_voltage_diff_pu"] or 0.0,
             v["ac_max_loading_diff"] or 0.0, v["ac_violations"], v["ac_nonconverged_steps"])


def _validate(args, comm, ctx: _Context) -> int:
    from .report.validation import write_validation
    from .workflows.evaluation import read_plan
    from .workflows.validation import resolve_saved_plan, validate_plan

    _one_rank(comm, "validate")
    results = Path(args.dir) / "results.json"
    doc = read_plan(results, "DIR")                  # a plan directory, before claiming it
    ctx.out = OutputDir.claim(Path(args.dir), "DIR")
    inst, solutions = resolve_saved_plan(doc, args.case, results, progress=not args.quiet)
    _log_validation(write_validation(ctx.out, doc, validate_plan(inst, solutions)))
    log.info("wrote %s and the metrics in %s", Path(args.dir) / "validation.csv", Path(args.dir) / "results.json")
    return 0


def _number_list(text: str, option: str, kind: type, ok, need: str) -> list:
    """'a,b,c' → numbers of `kind`, each passing `ok`; otherwise one input error naming the option."""
    try:
        values = [kind(v) for v in text.split(",")]
    except ValueError:
        raise InputError(option, f"'{text}' is not a comma-separated list of numbers") from None
    bad = [v for v in values if not ok(v)]
    if bad or not values:
        raise InputError(option, f"{need}, got {bad or values}")
    return values


def _one_rank(comm, command: str) -> None:
    if comm.size > 1:
        raise InputError(command, "runs on one rank; run it without mpiexec")


def _out_path(args, case, suffix: str) -> Path:
    return Path(args.out) if args.out else Path("results") / f"{case.name}{suffix}"


def _claim(ctx: _Context, args, case, suffix: str) -> OutputDir:
    ctx.out = OutputDir.claim(_out_path(args, case, suffix))
    return ctx.out


def _ev_aggregation(args, comm, ctx: _Context) -> int:
    from .config import default_case_path, load_case
    from .report.aggregation import write_aggregation
    from .workflows.aggregation import run_aggregation

    sizes = _number_list(args.fleet_sizes, "--fleet-sizes", int, lambda v: v >= 1, "give counts ≥ 1")
    _one_rank(comm, "ev-aggregation")
    case = load_case(args.case or default_case_path())
    out = _claim(ctx, args, case, "-ev-aggregation")
    table = run_aggregation(case, sizes, progress=not args.quiet)
    write_aggregation(case.name, table, out)
    log.info("wrote %s\n%s", out.path, table.to_string(index=False))
    return 0


def _strategies(args, comm, ctx: _Context) -> int:
    from .config import load_case
    from .instance import build_instance
    from .report.strategies import write_strategies
    from .workflows.strategies import run_strategies

    _one_rank(comm, "strategies")
    case = load_case(args.case)
    outdir.check(_out_path(args, case, "-strategies"))
    inst = build_instance(case)
    out = _claim(ctx, args, case, "-strategies")
    runs = run_strategies(inst)
    write_strategies(inst, runs, out)
    log.info("wrote %s\n%s", out.path, runs.table.to_string(index=False))
    return 0


def _check_k(k, case) -> None:
    if k is not None and case.scenarios.source != "year":
        raise InputError("--k", f"applies to year scenarios; this case has scenarios.source = "
                                f"'{case.scenarios.source}'")
    if k is not None and k < 1:
        raise InputError("--k", f"must be ≥ 1, got {k}")


def _year_case(args):
    from .config import default_case_path, load_case

    case = load_case(args.case or default_case_path())
    if case.scenarios.source != "year":
        raise InputError("scenarios.source", f"'{args.command}' needs a year of profiles: set source = 'year'")
    return case


def _reduce(args, comm, ctx: _Context) -> int:
    from .network import build_ref, load_net
    from .report.reduction import write_reduction
    from .scenarios import year_of_days

    case = _year_case(args)
    _check_k(args.k, case)
    if comm.rank == 0:
        outdir.check(_out_path(args, case, "-reduce"))
    year = year_of_days(case, build_ref(load_net(case.network.source), case.network, case.name), args.k)
    if comm.rank != 0:
        return 0
    out = _claim(ctx, args, case, "-reduce")
    sc = case.scenarios
    summary = write_reduction(year, case.name, {"metric": sc.metric, "normalisation": sc.normalisation,
                                                "backend": sc.backend, "seed": sc.seed}, out)
    log.info("%d days → %d representatives; mean distance to medoid %.3f, max %.3f (relative to the year's "
             "spread); wrote %s", summary["days"], summary["k"], summary["mean_distance_to_medoid"],
             summary["max_distance_to_medoid"], out.path)
    return 0


def _study(args, comm, ctx: _Context) -> int:
    from .config import default_case_path, load_case
    from .report.study import write_study
    from .workflows.study import run_study

    shares = _number_list(args.controllable_share, "--controllable-share", float, lambda v: 0 <= v <= 1,
                          "shares must lie in [0, 1]")
    _one_rank(comm, "study")
    _check_workers(args, comm)
    case = load_case(args.case or default_case_path())
    out = _claim(ctx, args, case, "-study")
    table = run_study(case, shares, args.workers)
    write_study(case.name, table, out)
    log.info("study of %d shares written to %s\n%s", len(table), out.path, table.to_string(index=False))
    return 0


def _evaluate(args, comm, ctx: _Context) -> int:
    from .instance import build_instance
    from .network import build_ref, load_net
    from .report.evaluation import write_evaluation
    from .scenarios import days_of_year
    from .workflows.evaluation import evaluate_year, plan_vector, read_plan

    _check_workers(args, comm)
    case = _year_case(args)
    doc = read_plan(Path(args.plan))                 # the plan file first: it is cheap to check
    if comm.rank == 0:
        outdir.check(_out_path(args, case, "-evaluate"))
    ref = build_ref(load_net(case.network.source), case.network, case.name)
    inst = build_instance(case, days=days_of_year(case, ref))
    plan = plan_vector(inst, doc)                     # the plan's buses against this case, before any solve
    interrupts.check()
    comm = _local_ranks(comm, args.workers, len(inst.days))     # forked when the days are solved
    out = _claim(ctx, args, case, "-evaluate") if comm.rank == 0 else None
    log.info("evaluating %s on %d days of the year on %d rank(s)", args.plan, len(inst.days), comm.size)
    x, y, in_sample = plan
    t0 = time.perf_counter()
    costs = evaluate_year(inst, x, comm)
    if costs is not None:                             # rank 0
        summary = write_evaluation(inst, x, y, in_sample, costs, out, time.perf_counter() - t0)
        log.info("out of sample %.2f EUR/year vs in sample %.2f (gap %+.3f %%); 95th-percentile day %.2f EUR; "
                 "%.1f s; wrote %s", summary["out_of_sample_cost"], summary["in_sample_cost"],
                 summary["gap_percent"], summary["p95_day_cost"], summary["seconds"], out.path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
