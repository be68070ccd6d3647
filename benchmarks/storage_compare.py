"""Journal file vs SQLite (vs PostgreSQL) as the storage of one study shared by several
processes on one machine: the measurement behind lrkit's embedded default.

    nice -n 10 python benchmarks/storage_compare.py --procs 6 --trials 20

Every process runs ``lrkit.tune`` on the same study with a trivial objective (20 reported
steps, no training), so the figure is the storage's own cost: ask, 20 steps reported in
writes of lrkit's default cadence, heartbeat attributes, tell, plus the reaping scan. All
storages run in the same invocation, one after the other, repeated ``--repeat`` times
(interleaved) and reported as the median. Writes its block of ``docs/benchmarks/tune.md``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tune_quality import write_section  # noqa: E402

POSTGRES = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


def objective(trial):
    for step in range(20):
        trial.report(step, (trial.lr - 0.01) ** 2 + 1.0 / (step + 1))
    return (trial.lr - 0.01) ** 2


def worker(storage: str, study: str, n_trials: int, errors) -> None:
    from lrkit.tuning import tune

    try:
        tune(objective, n_trials=n_trials, total_steps=20, storage=storage, study_name=study,
             lr_range=(1e-5, 1.0), sampler="random", pruner="none")
    except Exception as exc:  # count it: a storage that errors under load is the finding
        errors.put(f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}")


def measure(storage: str, procs: int, trials_each: int) -> tuple[float, int, list[str]]:
    from lrkit.tuning import tune

    study = f"bench-{uuid.uuid4().hex[:8]}"
    tune(objective, n_trials=1, total_steps=20, storage=storage, study_name=study,
         lr_range=(1e-5, 1.0), sampler="random", pruner="none")  # create once, as lrkit tune does
    ctx = multiprocessing.get_context("fork")
    errors = ctx.Queue()
    total = 1 + procs * trials_each
    start = time.perf_counter()
    ps = [ctx.Process(target=worker, args=(storage, study, total, errors)) for _ in range(procs)]
    for p in ps:
        p.start()
    for p in ps:
        p.join()
    seconds = time.perf_counter() - start
    import optuna

    from lrkit.tuning.storage import open_storage

    done = len([t for t in optuna.load_study(study_name=study, storage=open_storage(storage)).trials
                if t.state.is_finished()])
    errs = []
    while not errors.empty():
        errs.append(errors.get())
    if storage.startswith("postgresql"):
        optuna.delete_study(study_name=study, storage=storage)
    return seconds, done, errs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--procs", type=int, default=6)
    parser.add_argument("--trials", type=int, default=20, help="trials per process")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    tmp = Path(tempfile.mkdtemp())
    kinds = {"journal file": lambda i: str(tmp / f"s{i}.journal"),
             "SQLite": lambda i: f"sqlite:///{tmp / f's{i}.db'}"}
    if not args.no_postgres:
        kinds["PostgreSQL"] = lambda i: POSTGRES
    results: dict[str, list[tuple[float, int, list[str]]]] = {k: [] for k in kinds}
    for i in range(args.repeat):
        for kind, make in kinds.items():
            try:
                results[kind].append(measure(make(i), args.procs, args.trials))
            except Exception as exc:
                results[kind].append((float("nan"), 0, [f"{type(exc).__name__}: {exc}"[:120]]))
            sec, done, errs = results[kind][-1]
            print(f"{kind}: {sec:.1f} s, {done} trials, {len(errs)} errors", file=sys.stderr)
    want = 1 + args.procs * args.trials
    base = statistics.median(r[0] for r in results["journal file"])
    lines = ["### Storage: journal file vs SQLite vs PostgreSQL",
             "",
             f"`benchmarks/storage_compare.py --procs {args.procs} --trials {args.trials}`: "
             f"{args.procs} processes on one study, {want} trials in all (trivial objective, "
             f"20 reported steps each), median of {args.repeat} interleaved repeats.",
             "",
             "| storage | wall time (s) | trials/s | time vs journal | trials finished | worker errors |",
             "|---|---|---|---|---|---|"]
    for kind, runs in results.items():
        sec = statistics.median(r[0] for r in runs)
        done = min(r[1] for r in runs)
        errs = sum(len(r[2]) for r in runs)
        lines.append(f"| {kind} | {sec:.1f} | {want / sec:.1f} | {sec / base:.2f}x | "
                     f"{done}/{want} | {errs} |")
        for e in sorted({e for r in runs for e in r[2]})[:3]:
            lines.append(f"|  | error: `{e}` | | | | |")
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section("storage_compare", text)


if __name__ == "__main__":
    main()
