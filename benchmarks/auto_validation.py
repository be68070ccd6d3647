"""lrkit auto given a validation set (``val_data=``), on the problems outside the registry.

Each tabular problem of ``benchmarks/auto_heldout.py`` sets a fifth of its training part
aside as a validation set (the run never trains on it; the test part still judges), and
two ways of running lrkit auto on the rest are compared against a 4-per-decade grid of
full runs on the same reduced training data:

- ``no val``: ``autotrain`` as ``lrkit bench`` runs it, without ``val_data`` (the race is
  scored on batches held back from the training data);
- ``val``: ``val_data`` scores the race instead (at most 4 of its batches).

Every figure is a mean over 4 seeds (model initialisation and data order).

    nice -n 10 python benchmarks/auto_validation.py   # writes docs/benchmarks/auto_validation.md
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

from lrkit.problems.grid import grid_search  # noqa: E402
from lrkit.torch.auto import autotrain  # noqa: E402

VARIANTS = ("no val", "val")


def run(problem, val, use_val: bool, seed: int) -> tuple[float, float, float]:
    """(held-out loss, cost in runs, rate) of one lrkit auto run."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = problem.make_model(seed)
        result = autotrain(model, problem.make_optimizer, problem.loss_fn, problem.batches(seed),
                           problem.steps, seed=seed, val_data=val if use_val else None,
                           val_batches=min(4, len(val)) if use_val else 4)
        held_out = float(problem.evaluate(model))
    return held_out if math.isfinite(held_out) else math.inf, result.runs, result.lr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    auto_heldout.add_seeds_argument(parser)
    parser.add_argument("--fraction", type=float, default=0.2,
                        help="the share of each training part set aside for validation")
    parser.add_argument("--out", default="docs/benchmarks/auto_validation.md")
    args = parser.parse_args()
    seeds = auto_heldout.checked_seeds(parser, args.seeds)
    if not 0 < args.fraction < 1:
        parser.error(f"--fraction must be in (0, 1), but got {args.fraction}")
    torch.set_num_threads(1)
    auto_heldout.VALIDATION["fraction"] = args.fraction
    factories = {**auto_heldout.PROBLEMS, **auto_heldout.PROBES}
    names = [n for n in factories if n != "seq-conv"]  # the one that is not tabular
    lines = [
        "## lrkit auto with a validation set", "",
        f"Produced by `python benchmarks/auto_validation.py`. The tabular problems outside the "
        f"registry with {args.fraction:.0%} of their training part set aside as `val_data`; "
        "held-out (test) loss ratio to the best of a 4-per-decade grid of full runs on the "
        f"remaining training data, each figure a mean over {len(seeds)} seeds; cost in runs. "
        "`no val`: as `lrkit bench` runs it, the race scored on batches held back from the "
        "training data; `val`: the race scored on `val_data` (at most 4 batches).", "",
        "| problem | " + " | ".join(VARIANTS) + " | grid best lr | `no val`: rates | `val`: rates |",
        "|---|" + "---|" * (len(VARIANTS) + 3),
    ]
    ratios: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for name in names:
        problem = factories[name]()
        val = auto_heldout.VALIDATION_BATCHES[problem.name]
        start = time.perf_counter()
        grid = grid_search(problem, seeds=seeds)
        cells, rates = [], []
        for variant in VARIANTS:
            runs = [run(problem, val, variant == "val", s) for s in seeds]
            mean = float(np.mean([r[0] for r in runs]))
            ratio = mean / grid.best_loss if math.isfinite(mean) else math.inf
            ratios[variant].append(ratio)
            cells.append(f"{ratio:.3f} ({np.mean([r[1] for r in runs]):.2f} runs)")
            rates.append(", ".join(f"{r[2]:.3g}" for r in runs))
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {grid.best_lr:.3g} | "
                     + " | ".join(rates) + " |")
        print(lines[-1], f"[{time.perf_counter() - start:.0f} s]", flush=True)
    geo = [float(np.exp(np.mean(np.log(ratios[v])))) for v in VARIANTS]
    lines.append("| geometric mean | " + " | ".join(f"{g:.3f}" for g in geo) + " | | | |")
    lines.append("")
    auto_heldout.write_section(args.out, lines)


if __name__ == "__main__":
    main()
