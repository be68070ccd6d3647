"""Tiny problems for tests: milliseconds per run."""

import math

import torch

from lrkit.problems import Problem


def tiny_regression(
    *, nan_at_call=None, nan_seed=None, evaluate_nan=False, groups=False, keep=None, name="tiny",
    lbfgs=False,
):
    """Linear regression on 64 fixed points; options inject failures or record the optimizer."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(64, 3, generator=generator)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.1 * torch.randn(64, 1, generator=generator)
    calls = {"n": 0, "seed": None}

    def make_model(seed):
        torch.manual_seed(seed)
        calls["n"], calls["seed"] = 0, seed
        return torch.nn.Linear(3, 1)

    def make_optimizer(params, lr):
        params = list(params)
        if lbfgs:
            opt = torch.optim.LBFGS(params, lr=lr, max_iter=4)
        elif groups:
            opt = torch.optim.SGD(
                [{"params": params[:1], "lr": lr}, {"params": params[1:], "lr": lr / 10}]
            )
        else:
            opt = torch.optim.SGD(params, lr=lr)
        if keep is not None:
            keep.append(opt)
        return opt

    def loss_fn(model, batch):
        calls["n"] += 1
        loss = (model(batch[0]) - batch[1]).pow(2).mean()
        if (
            nan_at_call is not None
            and calls["n"] == nan_at_call + 1
            and nan_seed in (None, calls["seed"])
        ):
            return loss * math.nan
        return loss

    def batches(seed):
        g = torch.Generator().manual_seed(seed)
        while True:
            index = torch.randint(0, 64, (16,), generator=g)
            yield x[index], y[index]

    def evaluate(model):
        with torch.no_grad():
            value = float((model(x) - y).pow(2).mean())
        return math.nan if evaluate_nan else value

    return Problem(
        name=name,
        description="tiny linear regression",
        make_model=make_model,
        make_optimizer=make_optimizer,
        loss_fn=loss_fn,
        batches=batches,
        evaluate=evaluate,
        steps=20,
        default_lr=0.01,
        optimizer="sgd",
    )
