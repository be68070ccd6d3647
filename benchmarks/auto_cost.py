"""What lrkit auto costs in time, beside one plain run at the rate it picks.

``lrkit bench`` counts auto's cost in loss-function calls (at most 1.5 runs). This measures
what a user waits for: the CPU time of ``lrkit.torch.autotrain`` on each built-in problem
against the CPU time of one plain run (``lrkit.problems.train``, the same schedule) at the
rate auto chose, in the same process. The two are interleaved in a shuffled order, ``reps``
times each, so that load on the shared machine hits both alike (one torch thread; CPU
time, ``time.process_time``), and the medians are compared. The ratio is auto's calls
(about 1.5 runs) plus its overheads: snapshots of model and optimizer state on the CPU
(the start and two checkpoints, one every 5% of the run), the search's restores, and the
range test's analysis.

Memory: auto keeps at most three snapshots of model and optimizer state at a time plus
the batches of the search for replay; the table gives the size of one such state.

    nice -n 10 python benchmarks/auto_cost.py            # writes docs/benchmarks/auto_cost.md
    python benchmarks/auto_cost.py --reps 1 --no-write    # quick look
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path

import torch

from lrkit.problems import get, names, train
from lrkit.torch.auto import autotrain
from lrkit.torch.state import Snapshot

ROOT = Path(__file__).resolve().parent.parent


def run_auto(problem, seed: int):
    """autotrain as ``lrkit bench`` runs it, then the held-out evaluation (as a plain run
    ends with it); returns (CPU seconds, chosen rate, model, optimizer)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = problem.make_model(seed)
        started = time.process_time()
        result = autotrain(model, problem.make_optimizer, problem.loss_fn, problem.batches(seed),
                           problem.steps, seed=seed)
        problem.evaluate(model)  # the plain run ends with the same held-out evaluation
        seconds = time.process_time() - started
    return seconds, result.lr, model, result.optimizer


def run_plain(problem, lr: float, seed: int) -> float:
    started = time.process_time()
    train(problem, lr, seed=seed)
    return time.process_time() - started


def state_kilobytes(model, optimizer) -> float:
    """The tensor data of one snapshot as autotrain takes it (model, optimizer state and
    random generators), in kB."""
    return Snapshot.take(model, optimizer).nbytes() / 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows, ratios = [], []
    for name in names():
        problem = get(name)
        _, lr, model, optimizer = run_auto(problem, args.seed)  # warm-up, and the rate to compare at
        auto_times, plain_times = [], []
        order = ["auto", "plain"] * args.reps
        random.Random(args.seed).shuffle(order)
        for which in order:
            if which == "auto":
                auto_times.append(run_auto(problem, args.seed)[0])
            else:
                plain_times.append(run_plain(problem, lr, args.seed))
        auto_s, plain_s = statistics.median(auto_times), statistics.median(plain_times)
        ratios.append(auto_s / plain_s)
        rows.append(f"| {name} | {problem.steps} | {plain_s:.2f} | {auto_s:.2f} | {auto_s / plain_s:.2f} | "
                    f"{state_kilobytes(model, optimizer):.1f} |")
        print(rows[-1], flush=True)
    geo = statistics.geometric_mean(ratios)
    lines = [
        "## What lrkit auto costs in time", "",
        f"Produced by `python benchmarks/auto_cost.py`. CPU time of `lrkit.torch.autotrain` "
        f"(budget 1.5) and a held-out evaluation against one plain run (`lrkit.problems.train`) at the rate it chose, "
        f"same process, interleaved, median of {args.reps} each, one torch thread, seed "
        f"{args.seed}. The ratio is auto's loss calls (about 1.5 runs) plus its overheads "
        f"(snapshots, restores, the range test's analysis). \"state\" is one snapshot of model, "
        f"optimizer and random-generator tensors; auto holds at most three at a time, plus the search's batches.", "",
        "| problem | steps | plain run (s) | lrkit auto (s) | ratio | state (kB) |",
        "|---|---|---|---|---|---|",
        *rows,
        f"| geometric mean | | | | {geo:.2f} | |",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        (ROOT / "docs" / "benchmarks" / "auto_cost.md").write_text(text)


if __name__ == "__main__":
    main()
