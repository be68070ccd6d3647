"""Throughput of ``lrkit tune``: trials per minute with 1 and 2 local worker processes, on
the default storage (a journal file) and on PostgreSQL.

    nice -n 10 python benchmarks/tune_throughput.py --problem quadratic --n-trials 12

Each cell runs the real command, ``lrkit tune --problem P --n-trials N --workers K
--storage S --pruner none`` (every trial a full run, so cells do the same work), on a fresh
study. Two rates are reported: over the command's wall time (start-up of Python, torch and
the workers included) and over the study's own span (first trial start to last trial end).
Cells are interleaved and repeated; medians. The machine has 2 cores shared with other
work, so 2 workers can at best double the rate. Writes its block of docs/benchmarks/tune.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tune_quality import write_section  # noqa: E402

POSTGRES = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


def cell(problem: str, n_trials: int, workers: int, storage: str) -> tuple[float, float]:
    import optuna

    from lrkit.tuning.storage import open_storage

    study = f"throughput-{uuid.uuid4().hex[:8]}"
    command = [sys.executable, "-m", "lrkit.cli.main", "tune", "--problem", problem,
               "--n-trials", str(n_trials), "--workers", str(workers), "--storage", storage,
               "--study", study, "--pruner", "none", "--out", "none", "--json"]
    start = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    json.loads(out.stdout)
    trials = optuna.load_study(study_name=study, storage=open_storage(storage)).trials
    span = (max(t.datetime_complete for t in trials) - min(t.datetime_start for t in trials))
    if storage.startswith("postgresql"):
        optuna.delete_study(study_name=study, storage=storage)
    return 60 * len(trials) / wall, 60 * len(trials) / span.total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problem", default="quadratic")
    parser.add_argument("--n-trials", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    storages = {"journal file (default)": lambda: str(tmp / f"{uuid.uuid4().hex}.journal")}
    if not args.no_postgres:
        storages["PostgreSQL"] = lambda: POSTGRES
    results: dict[tuple[str, int], list[tuple[float, float]]] = {}
    for _ in range(args.repeat):
        for name, make in storages.items():
            for workers in (1, 2):
                r = cell(args.problem, args.n_trials, workers, make())
                results.setdefault((name, workers), []).append(r)
                print(f"{name} x{workers}: {r[0]:.1f} trials/min (wall), {r[1]:.1f} (study span)",
                      file=sys.stderr, flush=True)
    lines = ["### Throughput",
             "",
             f"`benchmarks/tune_throughput.py --problem {args.problem} --n-trials {args.n_trials}`: "
             f"`lrkit tune` with every trial a full run, trials per minute, median of "
             f"{args.repeat} interleaved repeats on a 2-core machine shared with other work.",
             "",
             "| storage | workers | trials/min (command wall time) | trials/min (study span) | vs 1 worker (span) |",
             "|---|---|---|---|---|"]
    for name in storages:
        one = statistics.median(r[1] for r in results[(name, 1)])
        for workers in (1, 2):
            runs = results[(name, workers)]
            wall = statistics.median(r[0] for r in runs)
            span = statistics.median(r[1] for r in runs)
            lines.append(f"| {name} | {workers} | {wall:.1f} | {span:.1f} | {span / one:.2f}x |")
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section("tune_throughput", text)


if __name__ == "__main__":
    main()
