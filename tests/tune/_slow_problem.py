"""A tiny regression problem whose steps take a few milliseconds, so that a trial lasts
long enough for a test to kill its worker in the middle of it."""

import time

import torch

from lrkit.problems import Problem


def make() -> Problem:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.1 * torch.randn(64, generator=g)

    def make_model(seed: int) -> torch.nn.Module:
        torch.manual_seed(seed)
        return torch.nn.Linear(4, 1)

    def loss_fn(model: torch.nn.Module, batch) -> torch.Tensor:
        time.sleep(0.01)
        xb, yb = batch
        return ((model(xb).squeeze(-1) - yb) ** 2).mean()

    def batches(seed: int):
        gen = torch.Generator().manual_seed(seed)
        while True:
            idx = torch.randint(0, 64, (16,), generator=gen)
            yield x[idx], y[idx]

    def evaluate(model: torch.nn.Module) -> float:
        with torch.no_grad():
            return float(((model(x).squeeze(-1) - y) ** 2).mean())

    return Problem(name="slow-linear", description="linear regression, 10 ms per step",
                   make_model=make_model, make_optimizer=lambda p, lr: torch.optim.SGD(p, lr=lr),
                   loss_fn=loss_fn, batches=batches, evaluate=evaluate, steps=60,
                   default_lr=0.01, optimizer="sgd")
