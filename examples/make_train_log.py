"""Write examples/train_log.csv, the sample log of ``lrkit diagnose``: a real short run.

digits-mlp (lrkit's built-in MLP on scikit-learn's digits, Adam) trains at a constant rate
of 0.003 for 250 steps, then a mistake in the schedule multiplies the rate by 1000 for the
last 150 steps. Each row is the training loss before that step's update, the rate of that
update and the gradient norm.

    python examples/make_train_log.py            # rewrites examples/train_log.csv
    lrkit diagnose examples/train_log.csv
"""

import csv
import math
import sys
from pathlib import Path

import torch

from lrkit.problems import get

STEPS, SPIKE_AT, LR, SPIKE = 400, 250, 3e-3, 1000.0


def main(path: Path) -> None:
    problem = get("digits-mlp")
    torch.manual_seed(0)
    model = problem.make_model(0)
    optimizer = problem.make_optimizer(model.parameters(), LR)
    batches = iter(problem.batches(0))
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["step", "loss", "lr", "grad_norm"])
        for step in range(STEPS):
            lr = LR * (SPIKE if step >= SPIKE_AT else 1.0)
            for group in optimizer.param_groups:
                group["lr"] = lr
            optimizer.zero_grad()
            loss = problem.loss_fn(model, next(batches))
            loss.backward()
            norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), math.inf))
            optimizer.step()
            out.writerow([step, f"{float(loss.detach()):.6g}", f"{lr:g}", f"{norm:.6g}"])


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("train_log.csv"))
