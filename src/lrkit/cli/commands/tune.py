"""``lrkit tune``: search the learning rate of a problem with Optuna, in K local processes."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from typing import Any

from lrkit.cli._common import (
    add_json_argument,
    add_output_argument,
    add_problem_argument,
    format_table,
    output_path,
    print_json,
    set_flag_names,
    show_progress,
)

ORDER = 30

# the library's parameter names in error messages, as this command's flags
FLAGS = {"problem": "--problem", "n_trials": "--n-trials", "budget": "--budget", "storage": "--storage",
         "study_name": "--study", "study": "--study", "workers": "--workers", "seed": "--seed",
         "steps": "--steps", "schedule": "--schedule", "text": "--schedule", "lr_range": "--lr-range",
         "heartbeat_interval": "--heartbeat", "grace_period": "--grace"}

EPILOG = """\
examples:
  lrkit tune --problem digits-mlp --n-trials 20
  lrkit tune --problem digits-mlp --budget 4 --workers 2      # 4 full-run equivalents
  lrkit tune --problem char-lm --n-trials 40 --storage postgresql+psycopg2://user@db/lrkit \\
      --study char-lm-1 --workers 4      # then on other machines: lrkit worker --storage ... --study char-lm-1
Re-running the same command resumes the study. The default storage is a journal file in
the current directory (no server, safe for many processes on one machine)."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "tune",
        help="search the learning rate with Optuna (LR-aware sampler, divergence-aware pruner)",
        description="Search the learning rate of a problem with Optuna. Trials are pruned at "
        "once when they diverge (recorded as PRUNED with their rate) and raced by successive "
        "halving otherwise; a killed worker's trial is failed and retried.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_problem_argument(parser)
    add_tune_arguments(parser)
    add_json_argument(parser)
    add_output_argument(parser, "tune.png")
    set_flag_names(parser, FLAGS)
    parser.set_defaults(func=run)


def add_tune_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n-trials", type=int, default=None, metavar="N",
                        help="finished trials to run (default: a resumed study's own, else "
                        "20 unless --budget is given)")
    parser.add_argument("--budget", type=float, default=None, metavar="RUNS",
                        help="stop after this many full-run equivalents of compute")
    parser.add_argument("--storage", default=None, metavar="PATH|URL",
                        help="journal file path or SQLAlchemy URL (default: lrkit-tune.journal)")
    parser.add_argument("--study", default=None, metavar="NAME",
                        help="study name (default: tune-PROBLEM-seedS); same name resumes")
    parser.add_argument("--workers", type=int, default=1, metavar="K",
                        help="local worker processes (default 1)")
    parser.add_argument("--seed", type=int, default=None,
                        help="model init and data order (default 0; a resumed study keeps its own)")
    parser.add_argument("--steps", type=int, default=None,
                        help="steps of one run (default: the problem's; a resumed study keeps its own)")
    parser.add_argument("--schedule", default=None, metavar="SPEC",
                        help="schedule text (default: 5%% linear warmup then cosine to 0)")
    parser.add_argument("--lr-range", type=float, nargs=2, default=None, metavar=("LOW", "HIGH"),
                        help="rates searched, as values (default: the problem's default rate "
                        "/1000 to x1000)")
    parser.add_argument("--sampler", default=None, choices=["lrkit", "tpe", "random"],
                        help="how rates are proposed: lrkit (cliff-aware pattern search in "
                        "log-rate, default), tpe (Optuna's TPE) or random; a resumed study keeps its own")
    parser.add_argument("--pruner", default=None, choices=["lrkit", "median", "none"],
                        help="how trials are stopped early: lrkit (divergence at once, then "
                        "successive halving, default), median (Optuna's median rule) or none; a resumed "
                        "study keeps its own")
    parser.add_argument("--heartbeat", type=float, default=None, metavar="SECONDS",
                        help="heartbeat interval of running trials (default 10; a resumed "
                        "study keeps its own)")
    parser.add_argument("--grace", type=float, default=None, metavar="SECONDS",
                        help="a trial without heartbeat this long is failed and retried; at "
                        "least twice --heartbeat (default 60; a resumed study keeps its own)")


def run(args: argparse.Namespace) -> int:
    from lrkit._validation import check_int, check_positive
    from lrkit.tuning.api import check_range_left
    from lrkit.tuning.problem_study import create_problem_study, run_problem_worker
    from lrkit.tuning.runner import Settings
    from lrkit.tuning.storage import DEFAULT_STORAGE, describe

    workers = check_int("workers", args.workers, minimum=1)
    n_trials = None if args.n_trials is None else check_int("n_trials", args.n_trials, minimum=1)
    budget = None if args.budget is None else check_positive("budget", args.budget)
    steps = None if args.steps is None else check_int("steps", args.steps, minimum=1)
    check_names(args)
    storage_spec = DEFAULT_STORAGE if args.storage is None else args.storage
    if storage_spec == ":memory:" and workers > 1:
        raise ValueError("`storage` must be a file or database to share a study between "
                         f"workers, but got storage=':memory:' with workers={workers}")
    seed = 0 if args.seed is None else args.seed
    study_name = args.study if args.study is not None else f"tune-{_slug(args.problem)}-seed{seed}"
    study = create_problem_study(
        storage_spec, study_name, problem=args.problem, n_trials=n_trials, budget=budget,
        seed=args.seed, steps=steps, schedule=args.schedule,
        lr_range=tuple(args.lr_range) if args.lr_range else None, sampler=args.sampler,
        pruner=args.pruner, heartbeat_interval=args.heartbeat, grace_period=args.grace,
        max_retries=2)
    storage = study._storage  # opened once the arguments were found valid
    progress = show_progress(args)
    if workers == 1:
        from lrkit._progress import progress_bar

        total = Settings.from_attrs(study.user_attrs).n_trials  # given, stored or the default
        with progress_bar(total, f"tune {study_name}", progress) as bar:
            study, _ = run_problem_worker(storage, study_name, on_trial=lambda t: bar.update(1))
        crashed = False
    else:
        crashed = _run_local_workers(storage_spec, study_name, workers, study, progress,
                                     args.verbose)
    check_range_left(study, Settings.from_attrs(study.user_attrs).lr_range)
    status = report(study, args, describe(storage_spec))
    # as with one worker, whose error ends the command: a crashed worker is a failure
    return 1 if crashed else status


def check_names(args: argparse.Namespace) -> None:
    """Reject an empty ``--study`` or ``--storage`` (shared with ``lrkit worker``)."""
    for flag in ("study", "storage"):
        value = getattr(args, flag, None)
        if value is not None and not value.strip():
            raise ValueError(f"`{flag}` must not be empty, but got --{flag} {value!r}")


def _run_local_workers(storage_spec: str, study_name: str, workers: int, study: Any,
                       progress: bool, verbose: bool) -> bool:
    """Run ``workers`` ``lrkit worker`` processes on the study; True when any of them failed."""
    from lrkit._progress import progress_bar
    from lrkit.tuning.runner import Settings, progress_of

    command = [sys.executable, "-m", "lrkit.cli.main"] + (["-v"] if verbose else []) + [
        "worker", "--storage", storage_spec, "--study", study_name, "--quiet"]
    env = os.environ.copy()
    # K workers sharing the cores: without this each torch would start one thread per core
    # and the oversubscribed, spinning thread pools make K workers slower than one
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))
    procs = [subprocess.Popen(command, env=env) for _ in range(workers)]
    settings = Settings.from_attrs(study.user_attrs)
    try:
        with progress_bar(settings.n_trials, f"tune {study_name} x{workers}", progress) as bar:
            shown = 0
            while any(p.poll() is None for p in procs):
                time.sleep(1.0)
                done = progress_of(study.get_trials(deepcopy=False), settings).done
                bar.update(max(0, done - shown))
                shown = max(shown, done)
    except KeyboardInterrupt:
        _interrupt_workers(procs)
        raise
    finally:
        for p in procs:
            p.wait()
    bad = [p.returncode for p in procs if p.returncode != 0]
    if bad:
        print(f"lrkit tune: {len(bad)} of {workers} workers exited with status {bad}; the study "
              f"keeps their finished trials", file=sys.stderr)
    return bool(bad)


def _interrupt_workers(procs: list[subprocess.Popen], wait: float = 2.0,
                       grace: float = 20.0) -> None:
    """Stop the workers after a Ctrl-C so that each fails its trial as "interrupted" and
    queues its retry (terminating them would leave their trials RUNNING in the storage).

    Ctrl-C in a terminal reaches the workers too (one process group), a ``kill -INT`` of
    this process does not: the workers get ``wait`` seconds to leave on their own, then one
    SIGINT each; those still there after ``grace`` seconds are terminated."""
    import signal

    def wait_all(seconds: float) -> None:
        deadline = time.monotonic() + seconds
        for p in procs:
            try:
                p.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass

    wait_all(wait)
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    wait_all(grace)
    for p in procs:
        if p.poll() is None:
            p.terminate()


def _slug(spec: str) -> str:
    name = spec.rsplit(":", 1)[1] if ".py:" in spec else spec
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name)


def report(study: Any, args: argparse.Namespace, storage_text: str) -> int:
    """Print the table (or JSON) and write the plot; shared with ``lrkit worker``."""
    from lrkit.tuning.api import result_of

    result = result_of(study)
    path = output_path(getattr(args, "out", None))
    if not result.trials:
        path = None  # nothing to plot: no file is written
    if path is not None:
        from lrkit._optional import pyplot
        from lrkit.tuning.plot import plot_trials

        plt = pyplot()
        ax = plot_trials(result, title=f"lrkit tune {study.user_attrs.get('lrkit:problem', '')}"
                         f" ({study.study_name})")
        ax.figure.savefig(path, dpi=120, bbox_inches="tight")
        plt.close(ax.figure)
    if getattr(args, "json", False):
        print_json(dict(result.summary(), storage=storage_text, trials=result.trials,
                        plot=str(path) if path else None))
        return 0
    rows = [[r["number"], r["lr"], r["state"], r["value"], r["steps"], r["note"]]
            for r in result.trials]
    print(format_table(["trial", "lr", "state", "value", "steps", "note"], rows))
    counts = ", ".join(f"{n} {s}" for s, n in sorted(result.counts.items()))
    cost = f", {result.cost:.2f} full-run equivalents" if result.cost is not None else ""
    print(f"\nstudy {study.study_name} in {storage_text}: {counts}{cost}")
    if result.best_lr is None and result.counts.get("diverged"):
        print("no trial finished without diverging; start a new study (another --study) with a lower --lr-range")
    elif result.best_lr is None:
        print("no trial finished: see the errors above")
    else:
        print(f"best lr = {result.best_lr:.4g}  (final loss {result.best_value:.4g})")
    if path is not None:
        print(f"plot: {path}")
    return 0
