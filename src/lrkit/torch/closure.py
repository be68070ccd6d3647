"""Optimizers whose ``step`` needs a closure (LBFGS): telling them apart, and stepping one.

``torch.optim.LBFGS.step(closure)`` evaluates the loss itself, up to ``max_iter`` times a
step, so a training loop that calls ``optimizer.step()`` fails inside torch with
``step() missing 1 required positional argument: 'closure'``.

>>> import torch
>>> model = torch.nn.Linear(2, 1)
>>> needs_closure(torch.optim.LBFGS(model.parameters())), needs_closure(torch.optim.SGD(model.parameters(), lr=0.1))
(True, False)
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any


def needs_closure(optimizer: Any) -> bool:
    """True for an optimizer whose ``step`` requires a closure (LBFGS)."""
    try:
        closure = inspect.signature(optimizer.step).parameters.get("closure")
    except (TypeError, ValueError):
        return False
    return closure is not None and closure.default is inspect.Parameter.empty


def step_optimizer(optimizer: Any, loss_of: Callable[[Any], Any], batch: Any) -> None:
    """``optimizer.step()`` after the caller's backward pass; for an optimizer that needs a
    closure, ``optimizer.step(closure)``, where the closure zeroes the gradients and
    backpropagates ``loss_of(batch)``, the loss of the same batch on the current weights.

    >>> import torch
    >>> w = torch.nn.Parameter(torch.tensor([3.0]))
    >>> optimizer = torch.optim.LBFGS([w], lr=1.0)
    >>> step_optimizer(optimizer, lambda target: ((w - target) ** 2).sum(), 1.0)
    >>> round(float(w), 4)
    1.0
    """
    if not needs_closure(optimizer):
        optimizer.step()
        return

    def closure() -> Any:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_of(batch)
        loss.backward()
        return loss

    optimizer.step(closure)
