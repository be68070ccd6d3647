"""Pieces every built-in problem shares: seeded model construction, seeded endless batches
over in-memory tensors, and a held-out evaluation that leaves training state alone."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import numpy as np
import torch

T = TypeVar("T")

# The train/held-out split of every built-in dataset is fixed: it must not move with the
# training seed, otherwise held-out losses of different seeds would not be comparable.
SPLIT_SEED = 20260101


# re-entrant: a problem's builder may itself call seeded()
_GLOBAL_RNG = threading.RLock()


def seeded(seed: int, build: Callable[[], T]) -> T:
    """Run ``build()`` with torch's global generator seeded by ``seed``, then put the
    caller's generator state back, so a model's initialisation depends only on ``seed``.

    >>> a = seeded(3, lambda: torch.nn.Linear(2, 2))
    >>> b = seeded(3, lambda: torch.nn.Linear(2, 2))
    >>> bool(torch.equal(a.weight, b.weight))
    True

    Threads take turns: the global generator is one per process, and two threads seeding
    and drawing from it at once would each get the other's numbers.
    """
    with _GLOBAL_RNG, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def split_indices(n: int, held_out_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """A fixed random split of ``range(n)`` into (train, held-out) index arrays."""
    order = np.random.RandomState(SPLIT_SEED).permutation(n)
    n_held_out = int(round(n * held_out_fraction))
    return np.sort(order[n_held_out:]), np.sort(order[:n_held_out])


def endless_batches(tensors: tuple[torch.Tensor, ...], batch_size: int, seed: int) -> Iterator[Any]:
    """Shuffled mini-batches over ``tensors`` (sliced together along dim 0), forever.

    Each pass over the data is a fresh permutation drawn from a private generator seeded by
    ``seed``: the order depends only on ``seed`` and the global RNG is never touched. The
    last incomplete batch of a pass is dropped so every batch has the same size.

    >>> xs = torch.arange(6.0)
    >>> it = endless_batches((xs,), 4, seed=0)
    >>> [len(next(it)[0]) for _ in range(3)]
    [4, 4, 4]
    """
    n = len(tensors[0])
    batch_size = min(batch_size, n)
    generator = torch.Generator().manual_seed(int(seed))
    while True:
        order = torch.randperm(n, generator=generator)
        for start in range(0, n - batch_size + 1, batch_size):
            index = order[start : start + batch_size]
            yield tuple(t[index] for t in tensors)


def held_out_loss(
    model: torch.nn.Module,
    loss_fn: Callable[[torch.nn.Module, Any], torch.Tensor],
    batch: Any,
) -> float:
    """``loss_fn(model, batch)`` in eval mode without gradients; the model's train/eval
    mode is put back afterwards and no ``.grad`` is created or changed."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return float(loss_fn(model, batch))
    finally:
        model.train(was_training)


def xy_mse(model: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Half the mean squared error of ``model(x)`` against ``y``."""
    x, y = batch
    return 0.5 * (model(x) - y).pow(2).mean()


def xy_cross_entropy(
    model: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor]
) -> torch.Tensor:
    """Mean cross-entropy of the logits ``model(x)`` against class labels ``y``."""
    x, y = batch
    return torch.nn.functional.cross_entropy(model(x), y)
