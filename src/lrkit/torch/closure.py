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
import math
from collections.abc import Callable
from typing import Any


def needs_closure(optimizer: Any) -> bool:
    """True for an optimizer whose ``step`` requires a closure (LBFGS)."""
    try:
        closure = inspect.signature(optimizer.step).parameters.get("closure")
    except (TypeError, ValueError):
        return False
    return closure is not None and closure.default is inspect.Parameter.empty


class _NotFinite(Exception):
    """The first loss of a closure step was not finite: no update is made."""


def train_step(optimizer: Any, loss_of: Callable[[Any], Any], batch: Any) -> float:
    """One update on ``batch``: zero the gradients, ``loss = loss_of(batch)``, backward, step.
    Returns the loss before the update; when it is not finite, no update is made.

    An optimizer that needs a closure (LBFGS) gets one that does the same and is called as
    often as it likes; the loss returned is its first, taken before the update (so a run
    makes no forward pass the closure does not make). No gradients are computed before the
    step: an optimizer that reads ``.grad`` before calling its closure (SAM-style) would
    read stale ones.

    >>> import torch
    >>> w = torch.nn.Parameter(torch.tensor([3.0]))
    >>> loss_of = lambda target: ((w - target) ** 2).sum()
    >>> train_step(torch.optim.LBFGS([w], lr=1.0), loss_of, 1.0), round(float(w), 4)
    (4.0, 1.0)
    >>> train_step(torch.optim.SGD([w], lr=0.1), loss_of, 2.0), round(float(w), 4)
    (1.0, 1.2)
    """
    if not needs_closure(optimizer):
        optimizer.zero_grad(set_to_none=True)
        loss = loss_of(batch)
        value = float(loss.detach())
        if math.isfinite(value):
            loss.backward()
            optimizer.step()
        return value
    first: list[float] = []

    def closure() -> Any:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_of(batch)
        if not first:
            first.append(float(loss.detach()))
            if not math.isfinite(first[0]):
                raise _NotFinite  # before the optimizer has changed anything
        loss.backward()
        return loss

    try:
        optimizer.step(closure)
    except _NotFinite:
        pass
    if not first:
        raise TypeError(f"`optimizer` {type(optimizer).__name__}.step(closure) never called the "
                        "closure, so no loss was measured")
    return first[0]
