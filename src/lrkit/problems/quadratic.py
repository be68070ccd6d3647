"""Least squares with a chosen condition number: the convex problem whose answer is known.

The training inputs are built so that the Hessian of the training loss
``f(w) = 1/(2n) * ||X w - y||^2`` is exactly ``diag(eigenvalues)``, with eigenvalues spaced
geometrically from ``curvature`` (L) down to ``curvature / condition`` (mu). Full-batch
gradient descent then diverges for a constant rate above ``2/L`` and contracts fastest at
``2/(L + mu)``, at ``(kappa - 1)/(kappa + 1)`` per step with ``kappa = L/mu``. Mini-batches
(``batch_size < n_train``) add gradient noise; ``batch_size=None`` gives exact gradient descent.

>>> p = make_quadratic(condition=10.0, curvature=1.0, batch_size=None)
>>> eigenvalues = quadratic_hessian_eigenvalues(p)
>>> round(float(eigenvalues[0]), 6), round(float(eigenvalues[-1]), 6)
(1.0, 0.1)
"""

from __future__ import annotations

from functools import lru_cache, partial
from typing import Any

import numpy as np
import torch

from lrkit._validation import check_int, check_nonnegative, check_positive, check_range
from lrkit.problems._common import SPLIT_SEED, endless_batches, held_out_loss, seeded, xy_mse
from lrkit.problems.base import Problem


@lru_cache(maxsize=16)
def _data(
    dim: int, condition: float, curvature: float, noise: float, n_train: int, n_held_out: int
) -> dict[str, Any]:
    rng = np.random.RandomState(SPLIT_SEED)
    eigenvalues = curvature * np.geomspace(1.0, 1.0 / condition, dim)
    # orthonormal columns scaled so that X^T X / n == diag(eigenvalues) exactly
    q, _ = np.linalg.qr(rng.standard_normal((n_train, dim)))
    x_train = np.sqrt(n_train) * q * np.sqrt(eigenvalues)
    x_held_out = rng.standard_normal((n_held_out, dim)) * np.sqrt(eigenvalues)
    w_star = rng.standard_normal(dim)
    y_train = x_train @ w_star + noise * rng.standard_normal(n_train)
    y_held_out = x_held_out @ w_star + noise * rng.standard_normal(n_held_out)

    def tensor(a: np.ndarray) -> torch.Tensor:
        return torch.tensor(a, dtype=torch.float32)

    return {
        "eigenvalues": eigenvalues,
        "train": (tensor(x_train), tensor(y_train).unsqueeze(1)),
        "held_out": (tensor(x_held_out), tensor(y_held_out).unsqueeze(1)),
    }


def _model(dim: int, seed: int) -> torch.nn.Module:
    return seeded(seed, lambda: torch.nn.Linear(dim, 1, bias=False))


def _sgd(params: Any, lr: float) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=lr)


def _evaluate(key: tuple, model: torch.nn.Module) -> float:
    return held_out_loss(model, xy_mse, _data(*key)["held_out"])


def _batches(key: tuple, batch_size: int, seed: int) -> Any:
    return endless_batches(_data(*key)["train"], batch_size, seed)


def make_quadratic(
    *,
    condition: float = 100.0,
    curvature: float = 10.0,
    dim: int = 20,
    noise: float = 0.1,
    batch_size: int | None = 32,
    n_train: int = 512,
    n_held_out: int = 512,
    steps: int = 200,
    name: str | None = None,
) -> Problem:
    """A least-squares problem with Hessian eigenvalues in ``[curvature/condition, curvature]``.

    Args:
        condition: kappa = L / mu, >= 1.
        curvature: L, the largest Hessian eigenvalue of the training loss.
        dim: number of weights.
        noise: standard deviation of the label noise (the held-out loss floor is about noise^2/2).
        batch_size: mini-batch size; ``None`` trains on the whole set (exact gradient descent).
        steps: the step budget.

    >>> p = make_quadratic(condition=1.0, batch_size=None)
    >>> p.name
    'quadratic-k1-full'
    """
    condition = check_range("condition", condition, 1.0, float("inf"), high_open=True)
    curvature = check_positive("curvature", curvature)
    dim = check_int("dim", dim, minimum=1)
    noise = check_nonnegative("noise", noise)
    n_train = check_int("n_train", n_train, minimum=dim)
    n_held_out = check_int("n_held_out", n_held_out, minimum=1)
    if batch_size is None:
        batch_size = n_train
    batch_size = check_int("batch_size", batch_size, minimum=1)
    key = (dim, condition, curvature, noise, n_train, n_held_out)
    if name is None:
        suffix = "full" if batch_size >= n_train else f"b{batch_size}"
        name = f"quadratic-k{condition:g}-{suffix}"
    return Problem(
        name=name,
        description=(
            f"least squares, {dim} weights, Hessian eigenvalues in "
            f"[{curvature / condition:g}, {curvature:g}] (condition {condition:g}), SGD batch {batch_size}"
        ),
        make_model=partial(_model, dim),
        make_optimizer=_sgd,
        loss_fn=xy_mse,
        batches=partial(_batches, key, batch_size),
        evaluate=partial(_evaluate, key),
        steps=check_int("steps", steps, minimum=1),
        default_lr=0.01,
        optimizer="sgd",
        tags=("convex", "quadratic", "known-curvature"),
    )


def quadratic_hessian_eigenvalues(problem: Problem) -> np.ndarray:
    """The exact Hessian eigenvalues of a :func:`make_quadratic` problem's training loss,
    largest first: ``2/max`` is the full-batch stability edge, ``2/(max+min)`` the best rate."""
    evaluate = problem.evaluate
    if not isinstance(evaluate, partial) or evaluate.func is not _evaluate:
        raise TypeError(
            f"`problem` must come from make_quadratic, but got problem={problem.name!r}"
        )
    return _data(*evaluate.args[0])["eigenvalues"].copy()
