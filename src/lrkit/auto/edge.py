"""The stability edge: the rate at which training blows up, from a short range test.

A thin layer over :func:`lrkit.range_test` (the rate rises geometrically, one update
per rate; its divergence test is scale- and sign-free and back-dates the edge to where
the blow-up started). Of the range test's features, the edge is the cheap and reliable
one; where the best rate sits below it is left to racing (:mod:`lrkit.auto.race`).

When the loss never blows up (losses that saturate, such as logistic regression's), the
sweep's ``top`` is the rate of the lowest smoothed loss instead: past it, more rate
stopped helping.

>>> def step(lr):  # gradient descent on f(x) = 50 x^2, stable below 2/100
...     step.x -= lr * 100 * step.x
...     return 50 * step.x ** 2
>>> step.x = 1.0
>>> edge = find_edge(step, start=1e-4, end=10.0, num=40)
>>> edge.diverged and 0.01 < edge.top < 0.2
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from lrkit._validation import check_int, check_positive
from lrkit.auto.blowup import BlowUp


@dataclass(frozen=True)
class Edge:
    """Where the range test says the usable rates end.

    Attributes:
        top: the edge when the loss blew up, else the rate of the lowest smoothed loss.
        diverged: whether the loss blew up within the sweep.
        steps: updates the sweep made.
        suggestion: the range test's own default pick (None when it had none).
        result: the full :class:`lrkit.RangeTestResult`.
    """

    top: float
    diverged: bool
    steps: int
    suggestion: float | None
    result: Any


def find_edge(
    step: Callable[[float], float],
    *,
    start: float = 1e-6,
    end: float = 10.0,
    num: int = 40,
    threshold: float = 3.0,
) -> Edge:
    """Sweep ``num`` rates from ``start`` to ``end``; return the edge (see the module doc).

    ``threshold`` is the range test's divergence threshold (in units of the curve's drop
    or noise). It is higher than the finder's default: a sweep this short on noisy
    batches otherwise mistakes a noise bump at tiny rates for the edge, and the onset is
    back-dated to where the rise began anyway.
    """
    from lrkit.finder import range_test

    check_positive("start", start)
    check_positive("end", end)
    num = check_int("num", num, minimum=2)
    result = range_test(step, start=start, end=end, num=num, threshold=threshold)
    if result.divergence_lr is not None:
        return Edge(float(result.divergence_lr), True, result.steps, result.suggestion, result)
    # a second opinion on the raw losses: a late spike far above the start is a blow-up
    watch = BlowUp(warmup=max(2, min(8, result.steps // 4)))
    for lr, loss in zip(result.lrs, result.losses, strict=True):
        if watch.update(float(loss)):
            return Edge(float(lr), True, result.steps, result.suggestion, result)
    smoothed = np.asarray(result.smoothed, dtype=float)
    finite = np.isfinite(smoothed)
    if finite.any():
        index = int(np.nanargmin(np.where(finite, smoothed, np.nan)))
        top = float(result.lrs[index])
    else:  # the very first loss was not finite: every rate tried is too large
        top = float(result.lrs[0])
    return Edge(top, False, result.steps, result.suggestion, result)
