"""Logistic regression on scikit-learn's bundled breast-cancer data (569 tumours, 30
features, standardised with the training split's statistics), trained by SGD.

Convex but not strongly so: the classes are nearly separable, so a large rate grows the
weights fast and the held-out cross-entropy gets worse through over-confidence even
though training never produces a NaN.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import torch

from lrkit._optional import require
from lrkit.problems._common import endless_batches, held_out_loss, seeded, split_indices
from lrkit.problems.base import Problem

BATCH_SIZE = 32


@lru_cache(maxsize=1)
def _data() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    datasets = require("sklearn.datasets", "the built-in problem 'logistic'")
    bunch = datasets.load_breast_cancer()
    x = torch.tensor(bunch.data, dtype=torch.float32)
    y = torch.tensor(bunch.target, dtype=torch.float32).unsqueeze(1)
    train, held_out = split_indices(len(x), 0.3)
    mean, std = x[train].mean(0), x[train].std(0)
    x = (x - mean) / std
    return {"train": (x[train], y[train]), "held_out": (x[held_out], y[held_out])}


def _model(seed: int) -> torch.nn.Module:
    return seeded(seed, lambda: torch.nn.Linear(30, 1))


def _loss(model: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    x, y = batch
    return torch.nn.functional.binary_cross_entropy_with_logits(model(x), y)


def _sgd(params: Any, lr: float) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=lr)


def _batches(seed: int) -> Any:
    return endless_batches(_data()["train"], BATCH_SIZE, seed)


def _evaluate(model: torch.nn.Module) -> float:
    return held_out_loss(model, _loss, _data()["held_out"])


def make_logistic() -> Problem:
    """The ``logistic`` problem."""
    return Problem(
        name="logistic",
        description="logistic regression, breast-cancer data (30 features), SGD batch 32",
        make_model=_model,
        make_optimizer=_sgd,
        loss_fn=_loss,
        batches=_batches,
        evaluate=_evaluate,
        steps=200,
        default_lr=0.01,
        optimizer="sgd",
        tags=("convex", "tabular", "classification"),
    )
