"""Matrix completion by factorisation: recover a rank-4 60x50 matrix from 30% of its
entries (plus a little noise) as ``U @ V.T`` with rank-8 factors, by Adagrad on
mini-batches of observed entries. Non-convex, with the scale symmetry of factor models;
the held-out loss is half the mean squared error on entries never seen in training.
Trained by Adagrad, the customary optimizer of factor and embedding models: each row of a
factor is touched by few entries of a batch, and Adagrad's per-coordinate step sizes make
up for that where plain SGD at its customary rate barely moves them."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import torch
from torch import nn

from lrkit.problems._common import SPLIT_SEED, endless_batches, held_out_loss, seeded
from lrkit.problems.base import Problem

ROWS, COLUMNS, TRUE_RANK, RANK = 60, 50, 4, 8
OBSERVED_FRACTION = 0.3
HELD_OUT_ENTRIES = 600
NOISE = 0.05


@lru_cache(maxsize=1)
def _data() -> dict[str, tuple[torch.Tensor, ...]]:
    rng = np.random.RandomState(SPLIT_SEED)
    matrix = rng.standard_normal((ROWS, TRUE_RANK)) @ rng.standard_normal((TRUE_RANK, COLUMNS))
    matrix /= np.sqrt(TRUE_RANK)  # entries of unit variance
    order = rng.permutation(ROWS * COLUMNS)
    n_train = int(OBSERVED_FRACTION * ROWS * COLUMNS)
    train, held_out = order[:n_train], order[n_train : n_train + HELD_OUT_ENTRIES]

    def entries(flat: np.ndarray, noisy: bool) -> tuple[torch.Tensor, ...]:
        rows, columns = np.divmod(flat, COLUMNS)
        values = matrix[rows, columns] + (NOISE * rng.standard_normal(len(flat)) if noisy else 0.0)
        return (
            torch.tensor(rows),
            torch.tensor(columns),
            torch.tensor(values, dtype=torch.float32),
        )

    return {"train": entries(train, True), "held_out": entries(held_out, True)}


class Factorisation(nn.Module):
    """Predicts entry (i, j) as ``<U_i, V_j>``; factors start small (std 0.3)."""

    def __init__(self) -> None:
        super().__init__()
        self.u = nn.Parameter(0.3 * torch.randn(ROWS, RANK))
        self.v = nn.Parameter(0.3 * torch.randn(COLUMNS, RANK))

    def forward(self, rows: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
        return (self.u[rows] * self.v[columns]).sum(-1)


def _loss(model: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
    rows, columns, values = batch
    return 0.5 * (model(rows, columns) - values).pow(2).mean()


def _batches(seed: int) -> Any:
    return endless_batches(_data()["train"], 64, seed)


def _model(seed: int) -> nn.Module:
    return seeded(seed, Factorisation)


def _adagrad(params: Any, lr: float) -> torch.optim.Optimizer:
    return torch.optim.Adagrad(params, lr=lr)


def _evaluate(model: nn.Module) -> float:
    return held_out_loss(model, _loss, _data()["held_out"])


def make_matrix_factorisation() -> Problem:
    """The ``matrix-factorisation`` problem."""
    return Problem(
        name="matrix-factorisation",
        description="rank-8 factorisation completing a rank-4 60x50 matrix from 30% of entries, Adagrad",
        make_model=_model,
        make_optimizer=_adagrad,
        loss_fn=_loss,
        batches=_batches,
        evaluate=_evaluate,
        steps=300,
        default_lr=0.01,
        optimizer="adagrad",
        tags=("non-convex", "factorisation"),
    )
