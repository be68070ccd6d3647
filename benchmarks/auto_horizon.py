"""How the best rate moves with the length of the run: the short-horizon bias of a race.

lrkit auto races candidate rates over a twentieth of a run (the schedule compressed onto
that many steps) and trains the winner in full. That works when the best rate for a short
run is the best for the full run too. This script measures, for every built-in problem and
every problem of ``benchmarks/auto_heldout.py``, the rate with the lowest mean held-out
loss after runs of 5%, 10%, 20%, 50% and 100% of the problem's steps (lrkit's default
shape, warmup then cosine, over each length; the 100% column is the reference grid), on
the grid's rates from six below its best upwards.

Every figure is a mean over 4 seeds (model initialisation and data order).

    nice -n 10 python benchmarks/auto_horizon.py   # writes docs/benchmarks/auto_horizon.md
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import auto_heldout  # noqa: E402

from lrkit import problems  # noqa: E402
from lrkit.problems.grid import grid_search  # noqa: E402
from lrkit.problems.train import train  # noqa: E402

FRACTIONS = (0.05, 0.1, 0.2, 0.5)
BELOW_BEST = 6  # grid rates tried below the full run's best


def best_rate(problem, lrs: np.ndarray, steps: int, seeds: tuple[int, ...]) -> float:
    """The rate of ``lrs`` with the lowest mean held-out loss after runs of ``steps``."""
    means: list[float] = []
    for lr in lrs:
        mean = float(np.mean([train(problem, float(lr), seed=s, steps=steps).held_out
                              for s in seeds]))
        means.append(mean if math.isfinite(mean) else math.inf)
        if len(means) >= 2 and math.isinf(means[-1]) and math.isinf(means[-2]):
            break  # two diverged in a row: every larger rate would too
    return float(lrs[int(np.argmin(means))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    auto_heldout.add_seeds_argument(parser)
    parser.add_argument("--out", default="docs/benchmarks/auto_horizon.md")
    args = parser.parse_args()
    seeds = auto_heldout.checked_seeds(parser, args.seeds)
    torch.set_num_threads(1)
    outside = {**auto_heldout.PROBLEMS, **auto_heldout.PROBES}
    rows = [(name, lambda n=name: problems.get(n)) for name in problems.names()]
    rows += [(f"{name} (outside)", factory) for name, factory in outside.items()]
    header = " | ".join(f"{f:.0%}" for f in FRACTIONS)
    lines = [
        "## The best rate against the length of the run", "",
        "Produced by `python benchmarks/auto_horizon.py`. For each problem, the rate with the "
        "lowest mean held-out loss (4 seeds) after runs of a fraction of the problem's steps, "
        "each on lrkit's default shape over its own length, on the reference grid's rates "
        "(4 per decade); 100% is the grid's best. lrkit auto's race runs each candidate over "
        "about 5% of the run. Last column: the best rate of the full run over that of the "
        "5% run.", "",
        f"| problem | {header} | 100% | full / 5% |",
        "|---|" + "---|" * (len(FRACTIONS) + 2),
    ]
    for name, factory in rows:
        problem = factory()
        start = time.perf_counter()
        grid = grid_search(problem, seeds=seeds)
        lrs = grid.lrs[max(0, grid.best_index - BELOW_BEST):]
        bests = [best_rate(problem, lrs, max(8, int(problem.steps * f)), seeds) for f in FRACTIONS]
        cells = " | ".join(f"{b:.3g}" for b in bests)
        lines.append(f"| {name} | {cells} | {grid.best_lr:.3g} | {grid.best_lr / bests[0]:.2g} |")
        print(lines[-1], f"[{time.perf_counter() - start:.0f} s]", flush=True)
    lines.append("")
    auto_heldout.write_section(args.out, lines)


if __name__ == "__main__":
    main()
