"""lrkit auto at larger budgets: what 2 or 2.5 runs buy over the default 1.5.

The budget pays for the search: at 1.5 runs the race's candidates each get about a
twentieth of the run; at 2 and 2.5 runs, two and three times as long. This runs lrkit
auto at each budget on the built-in problems and on the problems outside the registry
(``benchmarks/auto_heldout.py``) and reports the held-out loss ratio to each problem's
grid best (the cached 4-per-decade grids), a mean over 4 seeds.

    nice -n 10 python benchmarks/auto_budget.py   # writes docs/benchmarks/auto_budget.md
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from auto_heldout import PROBES, PROBLEMS, write_section

from lrkit.bench.methods import auto_run
from lrkit.problems import get, names
from lrkit.problems.grid import grid_search


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budgets", nargs="+", type=float, default=[1.5, 2.0, 2.5])
    parser.add_argument("--out", default="docs/benchmarks/auto_budget.md")
    args = parser.parse_args()
    torch.set_num_threads(1)
    seeds = (0, 1, 2, 3)
    groups = {
        "built-in": [get(name) for name in names()],
        "outside the registry, looked at while designing": [f() for f in PROBLEMS.values()],
        "outside the registry, fixed before any result": [f() for f in PROBES.values()],
    }
    header = " | ".join(f"budget {b:g}" for b in args.budgets)
    lines = [
        "## lrkit auto at larger budgets", "",
        "Produced by `python benchmarks/auto_budget.py`. Held-out loss ratio to the best of "
        "each problem's 4-per-decade grid, mean over 4 seeds (0-3), lrkit auto at each "
        "budget (in runs; the cost it spends is within it).", "",
        f"| problem | {header} |", "|---|" + "---|" * len(args.budgets),
    ]
    summary = []
    for label, problems in groups.items():
        ratios = np.empty((len(problems), len(args.budgets)))
        for i, problem in enumerate(problems):
            start = time.perf_counter()
            best = grid_search(problem, seeds=seeds).best_loss
            for j, budget in enumerate(args.budgets):
                held = [auto_run(problem, seed, budget=budget).held_out for seed in seeds]
                ratios[i, j] = float(np.mean(held)) / best
            lines.append(f"| {problem.name} | " + " | ".join(f"{r:.3f}" for r in ratios[i]) + " |")
            print(lines[-1], f"[{time.perf_counter() - start:.0f} s]", flush=True)
        geo = np.exp(np.mean(np.log(ratios), axis=0))
        summary.append(f"| **geometric mean, {label}** | "
                       + " | ".join(f"{g:.3f}" for g in geo) + " |")
    lines += summary + [""]
    write_section(args.out, lines)


if __name__ == "__main__":
    main()
