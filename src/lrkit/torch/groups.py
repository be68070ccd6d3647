"""Reading base rates once and writing per-group rates, tensor rates included.

lrkit never reads ``param_group["lr"]`` back as an input during training: base rates are
read once (at construction) and every later rate is ``base * multiplier``. A tensor rate
(used to keep ``torch.compile`` from recompiling) is updated in place.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch


def read_base_lrs(optimizer: torch.optim.Optimizer) -> list[float]:
    """The current rate of every parameter group, as floats.

    >>> p = torch.nn.Parameter(torch.zeros(1))
    >>> read_base_lrs(torch.optim.SGD([{"params": [p], "lr": 0.1}], lr=0.5))
    [0.1]
    """
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            f"`optimizer` must be a torch.optim.Optimizer, but got optimizer={optimizer!r}"
        )
    if not optimizer.param_groups:
        raise ValueError(f"`optimizer` must have at least one parameter group, but got "
                         f"{type(optimizer).__name__} with none")
    return check_group_lrs([float(group["lr"]) for group in optimizer.param_groups])


def check_group_lrs(lrs: list[float]) -> list[float]:
    """``lrs``, one rate per parameter group, each finite and >= 0, or a ValueError naming
    the group."""
    for i, lr in enumerate(lrs):
        if not (math.isfinite(lr) and lr >= 0.0):
            raise ValueError(f"`lr` of every parameter group must be finite and >= 0, but got "
                             f"lr={lr!r} in group {i}")
    return lrs


def set_lrs(optimizer: torch.optim.Optimizer, lrs: Sequence[float]) -> None:
    """Set group i's rate to ``lrs[i]``; a tensor rate is filled in place.

    >>> p = torch.nn.Parameter(torch.zeros(1))
    >>> opt = torch.optim.SGD([p], lr=torch.tensor(0.1))
    >>> set_lrs(opt, [0.25]); float(opt.param_groups[0]["lr"])
    0.25
    """
    groups = optimizer.param_groups
    if len(lrs) != len(groups):
        raise ValueError(
            f"`lrs` must have one rate per parameter group ({len(groups)}), but got lrs={list(lrs)!r}"
        )
    for group, lr in zip(groups, lrs, strict=True):
        current = group["lr"]
        if isinstance(current, torch.Tensor):
            current.fill_(lr)
        else:
            group["lr"] = float(lr)


def scale_lrs(optimizer: torch.optim.Optimizer, base_lrs: Sequence[float], factor: float) -> None:
    """Set every group's rate to ``base_lr * factor``, keeping the groups' ratios."""
    set_lrs(optimizer, [base * factor for base in base_lrs])
