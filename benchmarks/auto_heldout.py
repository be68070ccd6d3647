"""lrkit auto on problems that are NOT in lrkit's registry, against a grid on each.

The built-in problems shaped lrkit auto's design; these three are outside the registry
(different architectures, optimizers and step budgets) and no setting of lrkit auto was
fitted to them, so they show how it generalises. (They were looked at while the walking race
and the agreement rule were chosen, as a check that a change did not only fit the registry.)

- ``wine-mlp``: MLP on scikit-learn's wine data, SGD with Nesterov momentum, 200 steps.
- ``diabetes-resmlp``: residual MLP regression on scikit-learn's diabetes data, AdamW with
  weight decay, 300 steps.
- ``seq-conv``: 1-D CNN classifying synthetic noisy sequences by the sign of a hidden
  motif's correlation, RMSprop, 150 steps.

Every figure is a mean over 4 seeds; the grid is 4 rates per decade, cached.

    nice -n 10 python benchmarks/auto_heldout.py   # writes docs/benchmarks/auto_heldout.md
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch

from lrkit.bench.methods import METHODS
from lrkit.problems import Problem
from lrkit.problems.grid import grid_search


def _split(x: np.ndarray, y: np.ndarray, seed: int = 0):
    order = np.random.default_rng(seed).permutation(len(x))
    cut = int(0.75 * len(x))
    return (x[order[:cut]], y[order[:cut]]), (x[order[cut:]], y[order[cut:]])


def _stream(x: torch.Tensor, y: torch.Tensor, batch: int, seed: int):
    gen = torch.Generator().manual_seed(seed)
    while True:
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x) - batch + 1, batch):
            idx = order[i:i + batch]
            yield x[idx], y[idx]


def _evaluate(x: torch.Tensor, y: torch.Tensor, loss):
    def evaluate(model: torch.nn.Module) -> float:
        was = model.training
        model.eval()
        with torch.no_grad():
            value = float(loss(model(x), y))
        model.train(was)
        return value if math.isfinite(value) else math.inf

    return evaluate


def wine_mlp() -> Problem:
    from sklearn.datasets import load_wine

    data = load_wine()
    x = (data.data - data.data.mean(0)) / data.data.std(0)
    (xtr, ytr), (xte, yte) = _split(x.astype(np.float32), data.target)
    xtr, xte = torch.tensor(xtr), torch.tensor(xte)
    ytr, yte = torch.tensor(ytr), torch.tensor(yte)
    ce = torch.nn.functional.cross_entropy

    def make_model(seed: int) -> torch.nn.Module:
        torch.manual_seed(seed)
        return torch.nn.Sequential(torch.nn.Linear(13, 32), torch.nn.ReLU(),
                                   torch.nn.Linear(32, 32), torch.nn.ReLU(), torch.nn.Linear(32, 3))

    return Problem(
        name="heldout-wine-mlp", description="MLP on wine, SGD Nesterov", make_model=make_model,
        make_optimizer=lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9, nesterov=True),
        loss_fn=lambda m, b: ce(m(b[0]), b[1]), batches=lambda s: _stream(xtr, ytr, 16, s),
        evaluate=_evaluate(xte, yte, ce), steps=200, default_lr=0.01, optimizer="sgd-nesterov",
    )


class _ResBlock(torch.nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm = torch.nn.LayerNorm(width)
        self.body = torch.nn.Sequential(torch.nn.Linear(width, width), torch.nn.GELU(),
                                        torch.nn.Linear(width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(self.norm(x))


def diabetes_resmlp() -> Problem:
    from sklearn.datasets import load_diabetes

    data = load_diabetes()
    x = (data.data - data.data.mean(0)) / data.data.std(0)
    y = (data.target - data.target.mean()) / data.target.std()
    (xtr, ytr), (xte, yte) = _split(x.astype(np.float32), y.astype(np.float32)[:, None])
    xtr, xte, ytr, yte = map(torch.tensor, (xtr, xte, ytr, yte))
    mse = torch.nn.functional.mse_loss

    def make_model(seed: int) -> torch.nn.Module:
        torch.manual_seed(seed)
        return torch.nn.Sequential(torch.nn.Linear(10, 48), _ResBlock(48), _ResBlock(48),
                                   torch.nn.Linear(48, 1))

    return Problem(
        name="heldout-diabetes-resmlp", description="residual MLP regression, AdamW",
        make_model=make_model,
        make_optimizer=lambda p, lr: torch.optim.AdamW(p, lr=lr, weight_decay=0.05),
        loss_fn=lambda m, b: mse(m(b[0]), b[1]), batches=lambda s: _stream(xtr, ytr, 32, s),
        evaluate=_evaluate(xte, yte, mse), steps=300, default_lr=1e-3, optimizer="adamw",
    )


def seq_conv() -> Problem:
    gen = torch.Generator().manual_seed(7)
    motif = torch.randn(8, generator=gen)
    x = torch.randn(1200, 1, 48, generator=gen)
    score = torch.nn.functional.conv1d(x, motif.view(1, 1, 8)).amax(-1).squeeze(1)
    y = (score > score.median()).long()
    xtr, ytr, xte, yte = x[:900], y[:900], x[900:], y[900:]
    ce = torch.nn.functional.cross_entropy

    def make_model(seed: int) -> torch.nn.Module:
        torch.manual_seed(seed)
        return torch.nn.Sequential(torch.nn.Conv1d(1, 16, 8), torch.nn.ReLU(),
                                   torch.nn.Conv1d(16, 16, 5), torch.nn.ReLU(),
                                   torch.nn.AdaptiveMaxPool1d(1), torch.nn.Flatten(),
                                   torch.nn.Linear(16, 2))

    return Problem(
        name="heldout-seq-conv", description="1-D CNN on synthetic sequences, RMSprop",
        make_model=make_model, make_optimizer=lambda p, lr: torch.optim.RMSprop(p, lr=lr),
        loss_fn=lambda m, b: ce(m(b[0]), b[1]), batches=lambda s: _stream(xtr, ytr, 32, s),
        evaluate=_evaluate(xte, yte, ce), steps=150, default_lr=1e-3, optimizer="rmsprop",
    )


PROBLEMS = {"wine-mlp": wine_mlp, "diabetes-resmlp": diabetes_resmlp, "seq-conv": seq_conv}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", nargs="+", default=["auto", "finder", "tune", "default", "prodigy"])
    parser.add_argument("--out", default="docs/benchmarks/auto_heldout.md")
    args = parser.parse_args()
    torch.set_num_threads(1)
    seeds = (0, 1, 2, 3)
    lines = [
        "## lrkit auto on problems outside the registry", "",
        "Produced by `python benchmarks/auto_heldout.py`. Three problems defined only in that "
        "script (no setting of lrkit auto was fitted to them; they served as a check while "
        "the walking race and the agreement rule were chosen): held-out loss ratio to the best of a "
        "4-per-decade grid, each figure a mean over 4 seeds; cost in runs.", "",
        "| problem | " + " | ".join(args.methods) + " | grid best lr | auto's rates |",
        "|---|" + "---|" * (len(args.methods) + 2),
    ]
    ratios: dict[str, list[float]] = {m: [] for m in args.methods}
    costs: dict[str, list[float]] = {m: [] for m in args.methods}
    for name, factory in PROBLEMS.items():
        problem = factory()
        start = time.perf_counter()
        grid = grid_search(problem, seeds=seeds)
        cells, auto_lrs = [], ""
        for method in args.methods:
            runs = [METHODS[method].run(problem, s) for s in seeds]
            mean = float(np.mean([r.held_out for r in runs]))
            ratio = mean / grid.best_loss if math.isfinite(mean) else math.inf
            ratios[method].append(ratio)
            costs[method].append(float(np.mean([r.runs for r in runs])))
            cells.append(f"{ratio:.3f} ({costs[method][-1]:.2f} runs)")
            if method == "auto":
                auto_lrs = ", ".join(f"{r.lr:.3g}" for r in runs)
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {grid.best_lr:.3g} | {auto_lrs} |")
        print(lines[-1], f"[{time.perf_counter() - start:.0f} s]", flush=True)
    geo = [float(np.exp(np.mean(np.log(ratios[m])))) for m in args.methods]
    lines.append("| geometric mean | " + " | ".join(f"{g:.3f}" for g in geo) + " | | |")
    lines.append("")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
