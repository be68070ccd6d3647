"""Run methods side by side on problems, every figure a mean over seeds, against the
cached reference grid.

The figure of merit is the held-out loss ratio to the grid's best::

    ratio = mean over seeds of the method's held-out loss
            / best over the grid's rates of the mean held-out loss (same seeds)

so 1.0 is as good as a careful 4-per-decade grid search and a diverged seed makes the
ratio infinite. Cost is in full runs: loss-function calls / the problem's steps.

With 4 seeds a problem's ratio moves by several percent from seed luck alone, so
:meth:`BenchResult.compare` says how far a difference of geometric means would move
if the seeds had fallen otherwise: it resamples each problem's seeds with replacement
(paired: every method gets the same draw, as they ran on the same seeds) and reports the
central interval of the difference. The grid's best is held fixed.
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

    def compare(self, method: str, other: str, *, draws: int = 2000, level: float = 0.9,
                seed: int = 0) -> dict[str, float]:
        """How sure ``geomean(method) - geomean(other)`` is, given only 4 seeds or so.

        Each of ``draws`` resamples, per problem, the seed indices with replacement (the
        same indices for both methods: they ran on the same seeds) and recomputes both
        geometric means of ``mean(held-out) / grid best``. Returns the observed
        ``difference``, the ``low`` and ``high`` ends of the central ``level`` interval
        of the resampled differences, and ``p_better``, the share of draws where
        ``method`` came out lower (better). A diverged seed makes a draw's geometric
        mean infinite; such draws count as worse for the method that diverged, and the
        interval is taken over the draws where both are finite.
        """
        draws = check_int("draws", draws, minimum=100)
        if not 0.0 < level < 1.0:
            raise ValueError(f"`level` must be between 0 and 1, but got level={level!r}")
        for name in (method, other):
            if name not in self.methods:
                raise ValueError(f"`method` must be one of {list(self.methods)}, but got {name!r}")
        rng = np.random.default_rng(seed)
        log_ratio = np.zeros((2, draws))
        for problem in self.problems:
            losses = np.array([[r.held_out for r in self.cell(problem, name).runs]
                               for name in (method, other)])  # (2, seeds)
            grid_best = self.cell(problem, method).grid_best
            picks = rng.integers(0, losses.shape[1], size=(draws, losses.shape[1]))
            with np.errstate(divide="ignore", invalid="ignore"):
                log_ratio += np.log(losses[:, picks].mean(axis=2) / grid_best)
        geo = np.exp(log_ratio / len(self.problems))
        with np.errstate(invalid="ignore"):
            diff = geo[0] - geo[1]
        observed = self.summary(method)["geomean_ratio"] - self.summary(other)["geomean_ratio"]
        tail = 100 * (1 - level) / 2
        finite = diff[np.isfinite(diff)]
        low, high = (np.percentile(finite, [tail, 100 - tail]) if finite.size
                     else (math.nan, math.nan))
        return {"difference": float(observed), "low": float(low), "high": float(high),
                "p_better": float(np.mean(geo[0] < geo[1]))}

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
            "auto_against": ({m: self.compare("auto", m) for m in self.methods if m != "auto"}
                             if "auto" in self.methods else {}),
        }


def _check_auto_can_train(problems: Sequence[Any]) -> None:
    """Refuse, before any grid is trained, a problem whose optimizer steps with a closure:
    lrkit auto refuses it (its budget counts loss calls, LBFGS makes many a step)."""
    import torch

    from lrkit.torch.closure import needs_closure

    for problem in problems:
        with torch.random.fork_rng(devices=[]):  # the caller's random state is left alone
            model = problem.make_model(0)
        optimizer = problem.make_optimizer(model.parameters(), problem.default_lr)
        if needs_closure(optimizer):
            raise ValueError(
                f"`methods` must leave out auto for problem {problem.name!r}, whose optimizer "
                f"{type(optimizer).__name__} steps with a closure, which lrkit auto does not "
                f"take; but got auto among the methods")


def run_bench(
    problems: Sequence[Any],
    methods: Sequence[Method],
    *,
    seeds: int = 4,
    cache_dir: Any = True,
    progress: bool = False,
) -> BenchResult:
    """Run every method on every problem for seeds ``0 .. seeds-1``; see the module doc.

    ``problems`` are registered names, ``path.py:function`` specs or :class:`Problem`
    objects; ``methods`` come from :func:`lrkit.bench.methods.get_methods`. The reference
    grid of each problem is cached under ``cache_dir`` (True: the default directory;
    None: no cache).

    >>> from lrkit.bench.methods import get_methods
    >>> from lrkit.problems import make_quadratic
    >>> small = make_quadratic(condition=10.0, dim=5, steps=60, n_train=128, n_held_out=128)
    >>> result = run_bench([small], get_methods(["auto", "default"]), seeds=4, cache_dir=None)
    >>> result.cell(small.name, "auto").ratio < 1.1 < result.cell(small.name, "default").ratio
    True
    """
    from lrkit.problems import get
    from lrkit.problems.grid import grid_search

    seeds = check_int("seeds", seeds, minimum=4)
    seed_list = tuple(range(seeds))
    resolved = [get(p) if isinstance(p, str) else p for p in problems]
    if not resolved:
        raise ValueError(f"`problems` must name at least one problem, but got problems={problems!r}")
    names = [p.name for p in resolved]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:  # its rows would be counted twice in the summaries, and read from one
        raise ValueError(f"`problems` must name each problem once, but got {', '.join(repeated)} "
                         f"more than once (problems={names!r})")
    if not methods:
        raise ValueError(f"`methods` must name at least one method, but got methods={methods!r}")
    if any(m.name == "auto" for m in methods):
        _check_auto_can_train(resolved)
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
