"""Run methods side by side on problems, every figure a mean over seeds, against the
cached reference grid.

The figure of merit is the held-out loss ratio to the grid's best::

    ratio = mean over seeds of the method's held-out loss
            / best over the grid's rates of the mean held-out loss (same seeds)

so 1.0 is as good as a careful 4-per-decade grid search and a diverged seed makes the
ratio infinite. Cost is in full runs: loss-function calls / the problem's steps.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lrkit._progress import progress_bar
from lrkit._validation import check_int
from lrkit.bench.methods import Method, MethodRun

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Cell:
    """One method on one problem, over all seeds."""

    problem: str
    method: str
    runs: tuple[MethodRun, ...]
    grid_best: float
    grid_best_lr: float

    @property
    def mean_loss(self) -> float:
        return float(np.mean([r.held_out for r in self.runs]))

    @property
    def ratio(self) -> float:
        loss = self.mean_loss
        if not math.isfinite(loss):
            return math.inf
        return loss / self.grid_best if self.grid_best > 0 else math.nan

    @property
    def cost(self) -> float:
        return float(np.mean([r.runs for r in self.runs]))

    @property
    def lrs(self) -> list[float | None]:
        return [r.lr for r in self.runs]


@dataclass(frozen=True)
class BenchResult:
    """Every cell, with per-method summaries."""

    problems: tuple[str, ...]
    methods: tuple[str, ...]
    seeds: tuple[int, ...]
    cells: tuple[Cell, ...] = field(repr=False)

    def cell(self, problem: str, method: str) -> Cell:
        for cell in self.cells:
            if cell.problem == problem and cell.method == method:
                return cell
        raise KeyError((problem, method))

    def summary(self, method: str) -> dict[str, float]:
        """Geometric mean and worst ratio, problems within 1.1x/1.15x, mean cost in runs."""
        ratios = np.array([self.cell(p, method).ratio for p in self.problems])
        costs = [self.cell(p, method).cost for p in self.problems]
        geo = float(np.exp(np.mean(np.log(ratios)))) if np.all(np.isfinite(ratios)) else math.inf
        return {
            "geomean_ratio": geo,
            "worst_ratio": float(np.max(ratios)),
            "within_1.10": int(np.sum(ratios <= 1.10)),
            "within_1.15": int(np.sum(ratios <= 1.15)),
            "cost_runs": float(np.mean(costs)),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "seeds": list(self.seeds),
            "problems": list(self.problems),
            "methods": list(self.methods),
            "cells": [
                {"problem": c.problem, "method": c.method, "ratio": c.ratio, "cost_runs": c.cost,
                 "mean_loss": c.mean_loss, "grid_best": c.grid_best, "grid_best_lr": c.grid_best_lr,
                 "lrs": c.lrs, "notes": sorted({r.note for r in c.runs if r.note})}
                for c in self.cells
            ],
            "summary": {m: self.summary(m) for m in self.methods},
        }


def run_bench(
    problems: Sequence[Any],
    methods: Sequence[Method],
    *,
    seeds: int = 4,
    cache_dir: Any = True,
    progress: bool = False,
) -> BenchResult:
    """Run every method on every problem for seeds ``0 .. seeds-1``; see the module doc."""
    from lrkit.problems import get
    from lrkit.problems.grid import grid_search

    seeds = check_int("seeds", seeds, minimum=4)
    seed_list = tuple(range(seeds))
    resolved = [get(p) if isinstance(p, str) else p for p in problems]
    if not resolved:
        raise ValueError(f"`problems` must name at least one problem, but got problems={problems!r}")
    if not methods:
        raise ValueError(f"`methods` must name at least one method, but got methods={methods!r}")
    cells: list[Cell] = []
    total = len(resolved) * len(methods) * seeds
    with progress_bar(total, "lrkit bench", progress) as bar:
        for problem in resolved:
            grid = grid_search(problem, seeds=seed_list, cache_dir=cache_dir, progress=False)
            logger.info("%s: grid best %.4g at lr=%.3g", problem.name, grid.best_loss, grid.best_lr)
            for method in methods:
                runs = []
                for seed in seed_list:
                    bar.set_postfix(problem=problem.name, method=method.name)
                    runs.append(method.run(problem, seed))
                    bar.update(1)
                cells.append(Cell(problem.name, method.name, tuple(runs), float(grid.best_loss),
                                  float(grid.best_lr)))
    return BenchResult(tuple(p.name for p in resolved), tuple(m.name for m in methods),
                       seed_list, tuple(cells))
