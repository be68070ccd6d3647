"""A problem small enough for the bench and CLI tests: linear regression, Adam, 40 steps."""

from __future__ import annotations

import torch

from lrkit.problems import Problem


def make_problem(steps: int = 40) -> Problem:
    g = torch.Generator().manual_seed(123)
    w = torch.randn(6, 1, generator=g)
    x_test = torch.randn(128, 6, generator=g)
    y_test = x_test @ w

    def make_model(seed: int) -> torch.nn.Module:
        torch.manual_seed(seed)
        return torch.nn.Linear(6, 1)

    def batches(seed: int):
        gen = torch.Generator().manual_seed(seed)
        while True:
            x = torch.randn(16, 6, generator=gen)
            yield x, x @ w + 0.3 * torch.randn(16, 1, generator=gen)

    def loss_fn(model, batch):
        x, y = batch
        return torch.nn.functional.mse_loss(model(x), y)

    def evaluate(model) -> float:
        with torch.no_grad():
            return float(torch.nn.functional.mse_loss(model(x_test), y_test))

    return Problem(
        name="tiny-regression",
        description="linear regression, 6 features, Adam",
        make_model=make_model,
        make_optimizer=lambda params, lr: torch.optim.Adam(params, lr=lr),
        loss_fn=loss_fn,
        batches=batches,
        evaluate=evaluate,
        steps=steps,
        default_lr=1e-3,
        optimizer="adam",
    )
