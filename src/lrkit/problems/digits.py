"""Problems on scikit-learn's bundled digits (1797 greyscale 8x8 images, pixel values
scaled to [0, 1]; a fixed 80/20 train/held-out split): an MLP, a small CNN, an
autoencoder and a deep narrow tanh network."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import torch
from torch import nn

from lrkit._optional import require
from lrkit.problems._common import (
    endless_batches,
    held_out_loss,
    seeded,
    split_indices,
    xy_cross_entropy,
)
from lrkit.problems.base import Problem


@lru_cache(maxsize=1)
def _data() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    datasets = require("sklearn.datasets", "the built-in digits problems")
    bunch = datasets.load_digits()
    x = torch.tensor(bunch.data, dtype=torch.float32) / 16.0
    y = torch.tensor(bunch.target, dtype=torch.int64)
    train, held_out = split_indices(len(x), 0.2)
    return {"train": (x[train], y[train]), "held_out": (x[held_out], y[held_out])}


def _adam(params: Any, lr: float) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=lr)


def _sgd_momentum(params: Any, lr: float) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=lr, momentum=0.9)


# ---- digits-mlp -------------------------------------------------------------------------


def _mlp(seed: int) -> nn.Module:
    return seeded(seed, lambda: nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)))


def _classification_batches(seed: int) -> Any:
    return endless_batches(_data()["train"], 64, seed)


def _classification_evaluate(model: nn.Module) -> float:
    return held_out_loss(model, xy_cross_entropy, _data()["held_out"])


def make_digits_mlp() -> Problem:
    """The ``digits-mlp`` problem."""
    return Problem(
        name="digits-mlp",
        description="MLP 64-64-10 (ReLU) classifying digits, Adam batch 64",
        make_model=_mlp,
        make_optimizer=_adam,
        loss_fn=xy_cross_entropy,
        batches=_classification_batches,
        evaluate=_classification_evaluate,
        steps=300,
        default_lr=1e-3,
        optimizer="adam",
        tags=("classification", "mlp"),
    )


# ---- digits-cnn -------------------------------------------------------------------------


class _SmallCNN(nn.Module):
    """conv 3x3 (8) - pool - conv 3x3 (16) - pool - linear, on 1x8x8 images."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.head = nn.Linear(16 * 2 * 2, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x.view(-1, 1, 8, 8)).flatten(1))


def _cnn(seed: int) -> nn.Module:
    return seeded(seed, _SmallCNN)


def make_digits_cnn() -> Problem:
    """The ``digits-cnn`` problem."""
    return Problem(
        name="digits-cnn",
        description="small CNN (2 conv layers) classifying 8x8 digits, Adam batch 64",
        make_model=_cnn,
        make_optimizer=_adam,
        loss_fn=xy_cross_entropy,
        batches=_classification_batches,
        evaluate=_classification_evaluate,
        steps=200,
        default_lr=1e-3,
        optimizer="adam",
        tags=("classification", "cnn"),
    )


# ---- autoencoder ------------------------------------------------------------------------


def _autoencoder(seed: int) -> nn.Module:
    return seeded(
        seed,
        lambda: nn.Sequential(
            nn.Linear(64, 32),
            nn.Tanh(),
            nn.Linear(32, 8),
            nn.Tanh(),
            nn.Linear(8, 32),
            nn.Tanh(),
            nn.Linear(32, 64),
        ),
    )


def _reconstruction_loss(model: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
    x = batch[0]
    return (model(x) - x).pow(2).mean()


def _autoencoder_batches(seed: int) -> Any:
    return endless_batches(_data()["train"][:1], 64, seed)


def _autoencoder_evaluate(model: nn.Module) -> float:
    return held_out_loss(model, _reconstruction_loss, _data()["held_out"][:1])


def make_autoencoder() -> Problem:
    """The ``autoencoder`` problem."""
    return Problem(
        name="autoencoder",
        description="autoencoder 64-32-8-32-64 (tanh) reconstructing digits, MSE, Adam batch 64",
        make_model=_autoencoder,
        make_optimizer=_adam,
        loss_fn=_reconstruction_loss,
        batches=_autoencoder_batches,
        evaluate=_autoencoder_evaluate,
        steps=300,
        default_lr=1e-3,
        optimizer="adam",
        tags=("unsupervised", "mlp"),
    )


# ---- deep-tanh --------------------------------------------------------------------------

DEEP_TANH_DEPTH = 12
DEEP_TANH_WIDTH = 32


def _deep_tanh(seed: int) -> nn.Module:
    def build() -> nn.Module:
        layers: list[nn.Module] = [nn.Linear(64, DEEP_TANH_WIDTH), nn.Tanh()]
        for _ in range(DEEP_TANH_DEPTH - 2):
            layers += [nn.Linear(DEEP_TANH_WIDTH, DEEP_TANH_WIDTH), nn.Tanh()]
        layers.append(nn.Linear(DEEP_TANH_WIDTH, 10))
        model = nn.Sequential(*layers)
        # Xavier initialisation with tanh's gain keeps the signal alive through the depth;
        # the rate still has to be right for SGD to move such a narrow deep stack.
        for module in model:
            if isinstance(module, nn.Linear):
                nn.init.xavier_normal_(module.weight, gain=nn.init.calculate_gain("tanh"))
                nn.init.zeros_(module.bias)
        return model

    return seeded(seed, build)


def make_deep_tanh() -> Problem:
    """The ``deep-tanh`` problem."""
    return Problem(
        name="deep-tanh",
        description=f"deep narrow tanh MLP ({DEEP_TANH_DEPTH} layers of {DEEP_TANH_WIDTH}) "
        "classifying digits, SGD momentum 0.9 batch 64",
        make_model=_deep_tanh,
        make_optimizer=_sgd_momentum,
        loss_fn=xy_cross_entropy,
        batches=_classification_batches,
        evaluate=_classification_evaluate,
        steps=300,
        default_lr=0.01,
        optimizer="sgd-momentum",
        tags=("classification", "deep"),
    )
