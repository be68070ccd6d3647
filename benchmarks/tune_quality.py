"""Quality of ``lrkit.tune`` at equal budget, against Optuna's TPE + median pruner and random
log-uniform search, relative to the best of the 4-per-decade reference grid.

    nice -n 10 python benchmarks/tune_quality.py                          # every problem
    nice -n 10 python benchmarks/tune_quality.py quadratic logistic --budgets 4 8 --jobs 2

Each (problem, method, budget, seed) is one study on the problem's canonical run
(``lrkit.problems`` default warmup + cosine schedule), on seed ``s`` (model initialisation and
data order), for a budget in full-run equivalents (steps run / steps of one run, counted
exactly: a trial that would exceed it is cut and PRUNED). All three methods search the grid's
rate range (1e-4x to 1e3x the problem's default rate). Two figures per cell, means over seeds:

* ``study``: the held-out loss of the best completed trial (a full run at the picked rate on
  seed ``s``), over the grid's best mean held-out loss;
* ``4-seed@pick``: the picked rate trained again in full on the grid's 4 seeds
  (``lrkit.problems.evaluate_lr``), mean held-out loss over the grid's best: how good the
  picked rate is on seeds the study never saw (three of the four). This is the figure the
  targets are judged on.

Each study's result is cached under ``$LRKIT_CACHE/tune_quality`` (default
``./.lrkit-cache``), so a rerun with more problems or budgets only runs what is new.
Writes its section of ``docs/benchmarks/tune.md``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "benchmarks" / "tune.md"
METHODS = {"lrkit": ("lrkit", "lrkit"), "tpe+median": ("tpe", "median"), "random": ("random", "none")}


CACHE = Path(os.environ.get("LRKIT_CACHE", ".lrkit-cache")) / "tune_quality"


def run_one(task: tuple[str, str, float, int]) -> dict:
    """One study; its result is cached on disk so that an interrupted run resumes."""
    import json

    name, method, budget, seed = task
    path = CACHE / f"{name}-{method}-b{budget:g}-s{seed}.json"
    if path.exists():
        return json.loads(path.read_text())
    row = _run(task)
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(row))
    tmp.replace(path)
    return row


def _run(task: tuple[str, str, float, int]) -> dict:
    import torch

    torch.set_num_threads(1)
    from lrkit import problems
    from lrkit.tuning import problem_objective, tune

    name, method, budget, seed = task
    problem = problems.get(name)
    sampler, pruner = METHODS[method]
    start = time.perf_counter()
    result = tune(problem_objective(problem, seed=seed), budget=budget, total_steps=problem.steps,
                  lr_range=(problem.default_lr * 1e-4, problem.default_lr * 1e3),
                  start=problem.default_lr, sampler=sampler, pruner=pruner, seed=seed)
    return {"problem": name, "method": method, "budget": budget, "seed": seed,
            "lr": result.best_lr, "value": result.best_value, "cost": result.cost,
            "trials": len(result.trials), "seconds": time.perf_counter() - start}


def evaluate_pick(task: tuple[str, float]) -> float:
    """Mean held-out loss of full runs at the picked rate on the grid's seeds (cached)."""
    import json

    import torch

    torch.set_num_threads(1)
    from lrkit.problems import evaluate_lr

    name, lr = task
    path = CACHE / f"eval-{name}-{lr:.10g}.json"
    if path.exists():
        return json.loads(path.read_text())["loss"]
    loss = evaluate_lr(name, lr, seeds=(0, 1, 2, 3))
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"problem": name, "lr": lr, "loss": loss if math.isfinite(loss) else "inf"}))
    tmp.replace(path)
    return loss


def write_section(marker: str, text: str) -> None:
    """Replace this script's block of docs/benchmarks/tune.md, keeping the other scripts'."""
    OUT.parent.mkdir(parents=True, exist_ok=True)
    old = OUT.read_text() if OUT.exists() else "## lrkit tune\n"
    begin, end = f"<!-- {marker} -->", f"<!-- /{marker} -->"
    block = f"{begin}\n{text.strip()}\n{end}"
    if begin in old and end in old:
        new = old[: old.index(begin)] + block + old[old.index(end) + len(end):]
    else:
        new = old.rstrip() + "\n\n" + block + "\n"
    OUT.write_text(new)


def main() -> None:
    from lrkit import problems
    from lrkit.problems import grid_search

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("problems", nargs="*", default=None)
    parser.add_argument("--budgets", type=float, nargs="+", default=[4.0, 8.0])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--jobs", type=int, default=max(1, (os.cpu_count() or 2) - 0))
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    names = args.problems or problems.names()
    grids = {}
    for name in names:
        t = time.perf_counter()
        grids[name] = grid_search(name, seeds=(0, 1, 2, 3), per_decade=4)
        print(f"grid {name}: best lr {grids[name].best_lr:.3g} loss {grids[name].best_loss:.4g} "
              f"({time.perf_counter() - t:.0f} s)", file=sys.stderr, flush=True)
    tasks = [(n, m, b, s) for n in names for b in args.budgets for m in args.methods
             for s in range(args.seeds)]
    rows = []
    with ProcessPoolExecutor(args.jobs) as pool:
        for row in pool.map(run_one, tasks):
            rows.append(row)
            print(f"{row['problem']:>20} {row['method']:>10} b={row['budget']:g} s={row['seed']} "
                  f"lr={row['lr']:.3g} value={row['value']} cost={row['cost']:.2f} "
                  f"({row['seconds']:.0f} s)", file=sys.stderr, flush=True)
    picks = sorted({(r["problem"], r["lr"]) for r in rows if r["lr"] is not None})
    with ProcessPoolExecutor(args.jobs) as pool:
        evaluated = dict(zip(picks, pool.map(evaluate_pick, picks), strict=True))
    evaluated = {k: float(v) for k, v in evaluated.items()}
    lines = [
        "### Quality at equal budget",
        "",
        "`benchmarks/tune_quality.py`: ratio of held-out loss to the best of the 4-per-decade "
        f"reference grid (lower is better, 1.00 = the grid's best), mean over {args.seeds} seeds; "
        "`study` = the best completed trial's own held-out loss (its seed), `4-seed@pick` = "
        "the picked rate trained again on the grid's 4 seeds. Budgets in full-run "
        "equivalents, counted exactly.",
        "",
        "| problem | budget | " + " | ".join(f"{m} study | {m} 4-seed@pick" for m in args.methods) + " |",
        "|---|---|" + "---|---|" * len(args.methods),
    ]
    summary: dict[tuple[str, float], list[float]] = {}
    for name in names:
        grid = grids[name]
        for budget in args.budgets:
            cells = []
            for method in args.methods:
                sel = [r for r in rows if r["problem"] == name and r["method"] == method
                       and r["budget"] == budget]
                study = np.mean([r["value"] if r["value"] is not None else math.inf for r in sel])
                at = np.mean([evaluated.get((name, r["lr"]), math.inf) for r in sel])
                summary.setdefault((method, budget), []).append(at / grid.best_loss)
                cells += [f"{study / grid.best_loss:.3f}", f"{at / grid.best_loss:.3f}"]
            lines.append(f"| {name} | {budget:g} | " + " | ".join(cells) + " |")
    lines += ["", "Geometric mean of `4-seed@pick` over the problems above:", ""]
    for (method, budget), ratios in sorted(summary.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        finite = [r for r in ratios if math.isfinite(r)]
        geo = math.exp(np.mean(np.log(finite))) if len(finite) == len(ratios) else math.inf
        lines.append(f"- {method} at {budget:g} runs: {geo:.3f} (worst {max(ratios):.3f})")
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section("tune_quality", text)


if __name__ == "__main__":
    main()
