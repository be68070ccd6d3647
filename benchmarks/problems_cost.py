"""The built-in problems: their reference grid (best rate and held-out loss, the shape of
the valley) and what one full training run costs, with lrkit's canonical ``train()``
timed against a hand-written PyTorch loop (torch's own ``LambdaLR``) in the same run.

    nice -n 10 python benchmarks/problems_cost.py            # all problems
    nice -n 10 python benchmarks/problems_cost.py quadratic  # some of them

The grids are cached under ``$LRKIT_CACHE/grid`` (default ``./.lrkit-cache/grid``), so a
second run only re-times the training runs. Writes ``docs/benchmarks/problems.md``.
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from lrkit import problems
from lrkit.problems import default_schedule, grid_search, train

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "benchmarks" / "problems.md"
SEEDS = (0, 1, 2, 3)
PER_DECADE = 4
REPEATS = 5


def plain_torch_run(problem: problems.Problem, lr: float, seed: int) -> float:
    """The same run written the way a PyTorch user would: LambdaLR with the same shape."""
    shape = default_schedule(problem.steps)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = problem.make_model(seed)
        optimizer = problem.make_optimizer(model.parameters(), lr)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: shape(t))
        batches = problem.batches(seed)
        for _ in range(problem.steps):
            optimizer.zero_grad()
            loss = problem.loss_fn(model, next(batches))
            if not math.isfinite(loss.item()):
                return math.inf
            loss.backward()
            optimizer.step()
            scheduler.step()
        return problem.evaluate(model)


def timed(fn) -> float:
    """CPU seconds of this process (wall time on 2 cores shared by many jobs mostly
    measures the waiting)."""
    start = time.process_time()
    fn()
    return time.process_time() - start


def cost(problem: problems.Problem) -> tuple[float, float]:
    """CPU seconds of one full run at the default rate for lrkit's train() and the plain loop:
    interleaved, the minimum of REPEATS each (the least disturbed by other processes)."""
    train(problem, problem.default_lr, steps=3)  # warm caches and lazy imports
    ours, theirs = [], []
    for _ in range(REPEATS):
        ours.append(timed(lambda: train(problem, problem.default_lr)))
        theirs.append(timed(lambda: plain_torch_run(problem, problem.default_lr, 0)))
    return min(ours), min(theirs)


def loss_at(result: problems.GridResult, factor: float) -> float | None:
    """The grid's mean loss at ``best_lr * factor`` (None when off the grid)."""
    target = result.best_lr * factor
    if target > result.lrs[-1] and np.isinf(result.losses[-1]).all():
        return math.inf  # past the end of a grid that stopped because everything diverged
    index = int(np.argmin(np.abs(np.log(result.lrs / target))))
    if abs(math.log(result.lrs[index] / target)) > 1e-6:
        return None
    return float(result.mean_losses[index])


def fmt(value: float | None, spec: str = ".3g") -> str:
    if value is None:
        return "-"
    if math.isinf(value):
        return "diverged"
    return format(value, spec)


def ratio(value: float | None, best: float) -> str:
    if value is None:
        return "off grid"
    if not math.isfinite(value):
        return "diverged"
    return f"{value / best:.2f}x" if value / best < 1e3 else ">1000x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="problems to run (default: all)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    names = args.names or problems.names()

    grid_rows, cost_rows, valley_rows = [], [], []
    for name in names:
        problem = problems.get(name)
        result = grid_search(
            problem, seeds=SEEDS, per_decade=PER_DECADE, progress=sys.stderr.isatty()
        )
        initial = statistics.mean(problem.evaluate(problem.make_model(s)) for s in SEEDS)
        default_index = int(np.argmin(np.abs(np.log(result.lrs / problem.default_lr))))
        at_default = float(result.mean_losses[default_index])
        per_seed_best = result.losses[result.best_index]
        spread = float(np.std(per_seed_best) / np.mean(per_seed_best))
        grid_rows.append(
            f"| {name} | {problem.optimizer} | {problem.steps} | {problem.default_lr:g} "
            f"| {result.best_lr:.3g} ({result.best_lr / problem.default_lr:.3g}x) "
            f"| {result.best_loss:.4g} | {spread:.0%} | {at_default:.4g} | {initial:.4g} "
            f"| {fmt(result.divergence_lr)} | {len(result.lrs)} |"
        )
        valley_rows.append(
            f"| {name} | {ratio(loss_at(result, 0.01), result.best_loss)} "
            f"| {ratio(loss_at(result, 0.1), result.best_loss)} "
            f"| {ratio(loss_at(result, 10 ** (1 / PER_DECADE)), result.best_loss)} "
            f"| {ratio(loss_at(result, 10.0), result.best_loss)} |"
        )
        ours, theirs = cost(problem)
        cost_rows.append(
            f"| {name} | {ours:.2f} | {1000 * ours / problem.steps:.2f} | {theirs:.2f} "
            f"| {ours / theirs:.2f} | {fmt(result.seconds_per_run, '.2f')} "
            f"| {result.seconds_per_run * np.isfinite(result.losses).sum() / 60:.1f} |"
        )
        print(grid_rows[-1], cost_rows[-1], sep="\n", flush=True)

    text = f"""## Built-in problems

The reference grid of every built-in problem: full training runs (lrkit's default shape,
linear warmup over 5% of the steps then cosine to 0) at {PER_DECADE} rates per decade from
1e-4x to 1e3x the optimizer's default rate, each trained with seeds {SEEDS}; the loss is
the held-out loss averaged over the seeds, a diverged run counting as infinite. After two
consecutive rates diverge on every seed the rest of the high side is skipped. Regenerate
with `nice -n 10 python benchmarks/problems_cost.py` (the grids are cached under
`.lrkit-cache/grid/`, so every other benchmark reuses them).

| problem | optimizer | steps | default lr | best lr (x default) | best held-out loss | seed spread at best (std/mean) | loss at default lr | initial loss | first diverging rate | grid points |
|---|---|---|---|---|---|---|---|---|---|---|
{chr(10).join(grid_rows)}

The valley: the mean held-out loss at a multiple of the best rate, as a ratio to the best
loss (lower rates crawl, higher rates are worse or diverge; one grid step is
10^(1/{PER_DECADE}) = {10 ** (1 / PER_DECADE):.2f}x).

| problem | 0.01x best | 0.1x best | {10 ** (1 / PER_DECADE):.2f}x best | 10x best |
|---|---|---|---|---|
{chr(10).join(valley_rows)}

Cost of one full run at the default rate in CPU seconds of the process, one thread
(`torch.set_num_threads(1)`), the minimum of {REPEATS} interleaved repeats: lrkit's `problems.train()` against the same run
written as a plain PyTorch loop with `torch.optim.lr_scheduler.LambdaLR` (the ratio is
train()'s overhead: the per-step finiteness check and rate bookkeeping). The grid columns
are the mean wall seconds per run while the grid was computed (other processes were running on
the 2 shared cores then, up to 6x the load of this table) and the grid's total compute
(seconds per run times the runs that did not diverge; diverged runs stop early).

| problem | train() CPU s | CPU ms/step | plain torch loop CPU s | ratio | grid wall s/run | grid total wall min |
|---|---|---|---|---|---|---|
{chr(10).join(cost_rows)}

Measured on {platform.system()} {platform.machine()}, Python {platform.python_version()},
torch {torch.__version__}, with other jobs sharing the 2 cores.
"""
    if args.names:
        print(text)
        return
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
