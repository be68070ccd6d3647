"""How good are the finder's picks? Held-out loss at each rule's pick against the best of a
full grid of rates, on every built-in problem, side by side with torch-lr-finder.

For every problem and seed (model initialisation and data order, 4 seeds):
  1. lrkit's range test (``lrkit.torch.find_lr``, defaults: 1e-7 .. 10, 100 steps) gives
     every rule's pick: lrkit's default, steepest, longest valley, minimum/10, edge/3;
  2. torch-lr-finder's ``LRFinder.range_test`` with its own defaults on the same model gives
     its steepest-gradient pick;
  3. each pick is trained in full with ``lrkit.problems.train`` (the problem's budget,
     lrkit's default warmup + cosine shape) at the same seed.
The reference is ``lrkit.problems.grid.grid_search`` (4 rates per decade, 4 seeds, cached).
Ratio = mean held-out loss at the picks / the grid's best mean held-out loss (inf when a
run diverged).

    nice -n 10 python benchmarks/finder_quality.py            # table + docs/benchmarks/finder.md
    python benchmarks/finder_quality.py --calibrate           # predicted ratios of candidate defaults
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _finder_common import (  # noqa: E402
    cache_dir,
    finder_curve,
    problem_key,
    reanalyze,
    torch_lr_finder_pick,
    write_block,
)

SEEDS = (0, 1, 2, 3)
RULES = ["lrkit", "steepest", "valley", "minimum/10", "edge/3", "torch-lr-finder"]


def tlf_pick_cached(problem: Any, seed: int) -> float | None:
    path = cache_dir() / f"tlf-{problem_key(problem)}-{seed}.json"
    if path.exists():
        return json.loads(path.read_text())["lr"]
    with contextlib.redirect_stderr(io.StringIO()):
        lr = torch_lr_finder_pick(problem, seed)
    path.write_text(json.dumps({"lr": lr}))
    return lr


def held_out(problem: Any, lr: float | None, seed: int) -> float:
    """Held-out loss of a full run at ``lr`` (inf for no pick or a diverged run), cached."""
    from lrkit.problems import train

    if lr is None or not math.isfinite(lr) or lr <= 0:
        return math.inf
    path = cache_dir() / f"train-{problem_key(problem)}.json"
    table = json.loads(path.read_text()) if path.exists() else {}
    key = f"{lr:.12e}:{seed}"
    if key not in table:
        table[key] = train(problem, lr, seed=seed).held_out
        path.write_text(json.dumps(table))
    return float(table[key])


def collect(names: list[str], seeds: tuple[int, ...]) -> dict[str, Any]:
    from lrkit import problems
    from lrkit.problems.grid import grid_search

    out: dict[str, Any] = {}
    for name in names:
        problem = problems.get(name)
        started = time.perf_counter()
        curves = [finder_curve(problem, seed) for seed in seeds]
        tlf = [tlf_pick_cached(problem, seed) for seed in seeds]
        grid = grid_search(problem, seeds=seeds)
        out[name] = {"problem": problem, "curves": curves, "tlf": tlf, "grid": grid}
        print(f"[{name}] sweeps ready ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return out


def picks_of(entry: dict[str, Any]) -> dict[str, list[float | None]]:
    picks: dict[str, list[float | None]] = {rule: [] for rule in RULES}
    for curve, tlf in zip(entry["curves"], entry["tlf"], strict=True):
        result = reanalyze(curve)
        for rule in RULES[:-1]:
            lr = result.suggestion if rule == "lrkit" else result.suggestions[rule]
            picks[rule].append(lr)
        picks["torch-lr-finder"].append(tlf)
    return picks


def predicted_ratio(grid: Any, lr: float | None) -> float:
    """The grid's mean held-out loss interpolated in log-rate at ``lr``, over its best."""
    if lr is None:
        return math.inf
    lrs, losses = np.asarray(grid.lrs), np.asarray(grid.mean_losses)
    if lr < lrs[0] or lr > lrs[-1]:
        return math.inf if lr > lrs[-1] else float(losses[0] / grid.best_loss)
    x = np.log(lrs)
    i = int(np.clip(np.searchsorted(x, math.log(lr)) - 1, 0, len(x) - 2))
    a, b = losses[i], losses[i + 1]
    if not (math.isfinite(a) and math.isfinite(b)):
        return math.inf
    w = (math.log(lr) - x[i]) / (x[i + 1] - x[i])
    return float(((1 - w) * a + w * b) / grid.best_loss)


def quality(data: dict[str, Any], seeds: tuple[int, ...]) -> str:
    rows = []
    ratios: dict[str, list[float]] = {rule: [] for rule in RULES}
    for name, entry in data.items():
        problem, grid = entry["problem"], entry["grid"]
        picks = picks_of(entry)
        row = [name, f"{grid.best_lr:.3g}", f"{grid.best_loss:.4g}"]
        for rule in RULES:
            losses = [held_out(problem, lr, seed) for lr, seed in zip(picks[rule], seeds, strict=True)]
            ratio = float(np.mean(losses)) / grid.best_loss
            ratios[rule].append(ratio)
            lrs = [lr for lr in picks[rule] if lr is not None]
            median_lr = f"{np.median(lrs):.2g}" if lrs else "-"
            missing = len(picks[rule]) - len(lrs)
            cell = f"no pick on {missing}/{len(picks[rule])} seeds" if missing else _fmt(ratio)
            row.append(f"{cell} ({median_lr})")
        rows.append(row)
        print(f"[{name}] " + "  ".join(row[3:]), file=sys.stderr)
    headers = ["problem", "grid best lr", "grid best loss"] + RULES
    median = ["**median ratio**", "", ""] + [f"**{_fmt(float(np.median(ratios[r])))}**" for r in RULES]
    worst = ["worst ratio", "", ""] + [
        f"{np.max(ratios[r]):.3f}" if math.isfinite(np.max(ratios[r])) else "inf" for r in RULES]
    within = ["problems within 1.10x", "", ""] + [
        f"{sum(v <= 1.10 for v in ratios[r])}/{len(ratios[r])}" for r in RULES]
    return _markdown(headers, rows + [median, worst, within])


def _fmt(ratio: float) -> str:
    return "diverged" if not math.isfinite(ratio) else f"{ratio:.3f}"


def _markdown(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def calibrate(data: dict[str, Any]) -> None:
    """Predicted ratios (grid interpolation) of candidate constants of lrkit's default."""
    from lrkit.finder import rules

    saved = rules.MINIMUM_FRACTION, rules.EDGE_FRACTION
    print("min_frac edge_frac  median  worst  per-problem (" + " ".join(data) + ")")
    for minimum in (0.7, 0.85, 1.0, 1.2, 1.5):
        for edge in (0.5, 0.6, 0.65, 0.7, 0.75):
            rules.MINIMUM_FRACTION, rules.EDGE_FRACTION = minimum, edge
            per = []
            for entry in data.values():
                picks = [reanalyze(c).suggestions["lrkit"] for c in entry["curves"]]
                per.append(float(np.mean([predicted_ratio(entry["grid"], p) for p in picks])))
            print(f"{minimum:8.2f} {edge:8.2f}  {np.median(per):6.3f} {np.max(per):6.3f}  "
                  + " ".join(f"{v:.3f}" for v in per))
    rules.MINIMUM_FRACTION, rules.EDGE_FRACTION = saved
    print("per problem: grid best lr; lowest point / best; edge / best")
    for name, entry in data.items():
        best = entry["grid"].best_lr
        lows = [rules.lowest_point(c["lrs"], c["losses"], c["onset"], c["beta"]) for c in entry["curves"]]
        edges = [reanalyze(c).divergence_lr for c in entry["curves"]]
        print(f"  {name:22s} {best:.3g}  " + " ".join("-" if v is None else f"{v / best:.2f}" for v in lows)
              + "  |  " + " ".join("-" if e is None else f"{e / best:.2f}" for e in edges))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", nargs="*", default=None)
    parser.add_argument("--calibrate", action="store_true")
    args = parser.parse_args()
    import torch

    from lrkit import problems

    torch.set_num_threads(1)
    names = args.problems or problems.names()
    started = time.perf_counter()
    data = collect(names, SEEDS)
    if args.calibrate:
        calibrate(data)
        return
    table = quality(data, SEEDS)
    print(table)
    minutes = (time.perf_counter() - started) / 60
    write_block("quality", QUALITY_TEXT.format(table=table, seeds=len(SEEDS), minutes=minutes))


QUALITY_TEXT = """\
### Picks against the best of a full grid

`nice -n 10 python benchmarks/finder_quality.py` (about 20 min on 2 busy cores from cold
caches, most of it the reference grids; {minutes:.1f} min for this run). For every
built-in problem and each of {seeds} seeds, one range test (lrkit defaults: 1e-7 .. 10, 100
steps) gives every rule's pick and torch-lr-finder's `LRFinder` (its defaults: from the
optimizer's rate to 10, 100 steps, `smooth_f=0.05`, `diverge_th=5`, steepest-gradient pick)
runs on the same model; each pick is then trained in full with `lrkit.problems.train` (the
problem's budget, warmup + cosine) at the same seed. Cell = mean held-out loss at the picks
divided by the best mean held-out loss of the reference grid (`grid_search`, 4 rates per
decade, same seeds), with the median pick in brackets. 1.000 is the grid's best; "diverged"
means at least one seed's run blew up, "no pick" that the rule gave no rate on some seeds
(counted as inf in the median and worst rows). Target for `lrkit`: within 1.10x on every problem and
a better median than every other rule.

{table}

How lrkit's default reads the curve: `min(0.7 x the rate at the lag-free lowest point,
0.7 x the divergence edge)`, a third of the edge when the curve hardly fell, a tenth of the
last rate when it never diverged (see `docs/finder.md`). Its constants were chosen on these
same problems and grids, so these figures are in-sample. It never lands catastrophically
far off, unlike the steepest, valley and minimum/10 rules and torch-lr-finder, which pick
one to two orders of magnitude too low on the quadratic (SGD, whose best rate sits right
under the stability edge). It misses the 1.10x target on the quadratic (a rate 20% under
the best already costs 30% there, and the sweep's steps are 1.2x apart), on digits-cnn
(where the curve's lowest point wanders several-fold between seeds), on digits-mlp (its
picks sit at about 0.8x the best rate) and on matrix-factorisation (a curve that hardly
falls before it blows up, so the pick falls back to a third of the edge, about 0.6x the
best).
"""


if __name__ == "__main__":
    main()
