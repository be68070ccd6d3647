"""lrkit auto on longer runs: the built-in problems at a multiple of their step budgets.

The built-in problems are short (150-300 steps), so the race's candidates get 10-17 steps
each. This checks that the design holds, and how it fares, when the run (and with it the
race's horizon) is longer. Each problem is copied with ``steps * factor`` steps under the
name ``<name>-x<factor>``; its grid (4 per decade, 4 seeds) is built and cached like any
other. Every figure is a mean over 4 seeds.

    nice -n 10 python benchmarks/auto_longer.py --factor 3 --problems quadratic digits-mlp
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np
import torch

from lrkit.bench.methods import METHODS
from lrkit.problems import get
from lrkit.problems.grid import grid_search


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--factor", type=int, default=3)
    parser.add_argument("--problems", nargs="+",
                        default=["quadratic", "digits-mlp", "char-lm", "digits-cnn", "logistic"])
    parser.add_argument("--out", default="docs/benchmarks/auto_longer.md")
    args = parser.parse_args()
    torch.set_num_threads(1)
    seeds = (0, 1, 2, 3)
    lines = [
        f"## lrkit auto on runs {args.factor}x longer", "",
        f"Produced by `python benchmarks/auto_longer.py --factor {args.factor}`. Built-in "
        f"problems with {args.factor}x their step budget; held-out loss ratio to the best of "
        f"that longer run's own 4-per-decade grid, mean over 4 seeds; cost in runs.", "",
        "| problem | steps | auto | cost (runs) | grid best lr | auto's rates |",
        "|---|---|---|---|---|---|",
    ]
    ratios = []
    for name in args.problems:
        base = get(name)
        problem = dataclasses.replace(base, name=f"{name}-x{args.factor}",
                                      steps=base.steps * args.factor)
        start = time.perf_counter()
        grid = grid_search(problem, seeds=seeds)
        runs = [METHODS["auto"].run(problem, seed) for seed in seeds]
        ratio = float(np.mean([r.held_out for r in runs])) / grid.best_loss
        ratios.append(ratio)
        lines.append(f"| {name} | {problem.steps} | {ratio:.3f} | "
                     f"{np.mean([r.runs for r in runs]):.2f} | {grid.best_lr:.3g} | "
                     f"{', '.join(f'{r.lr:.3g}' for r in runs)} |")
        print(lines[-1], f"[{time.perf_counter() - start:.0f} s]", flush=True)
    geo = float(np.exp(np.mean(np.log(ratios))))
    lines += [f"| geometric mean | | {geo:.3f} | | | |", ""]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
