"""The stability edge: the rate at which training blows up, from a short range test.

A thin layer over :func:`lrkit.range_test` (the rate rises geometrically, one update
per rate; its divergence test is scale- and sign-free and back-dates the edge to where
the blow-up started). Of the range test's features, the edge is the cheap and reliable
one; where the best rate sits below it is left to racing (:mod:`lrkit.auto.race`).

When the loss never blows up (losses that saturate, such as logistic regression's), the
sweep's ``top`` is the rate of the lowest smoothed loss instead: past it, more rate
stopped helping.

The sweep also says how far the loss fell at all (:func:`sweep_progress`): a sweep that
hardly moved the loss at any rate is on a plateau, and a short race would be too.

>>> def step(lr):  # gradient descent on f(x) = 50 x^2, stable below 2/100
...     step.x -= lr * 100 * step.x
...     return 50 * step.x ** 2
>>> step.x = 1.0
>>> edge = find_edge(step, start=1e-4, end=10.0, num=40)
>>> edge.diverged and 0.01 < edge.top < 0.2
True
"""

from __future__ import annotations

import math
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

    @property
    def progress(self) -> float:
        """How far the sweep lowered the loss: :func:`sweep_progress` of ``result``."""
        return sweep_progress(self.result)


#: the untrained loss is the median of the sweep's first few losses (its tiny rates)
HEAD = 5


def sweep_progress(result: Any) -> float:
    """How far a range test lowered the loss, as a fraction of where it started::

        progress = (start - lowest) / |start|

    ``start`` is the median of the first ``HEAD`` raw losses before the blow-up (taken at
    the sweep's tiny rates: the untrained model), ``lowest`` the lowest smoothed loss
    before the blow-up. 0 means no rate lowered the loss (a loss that only rose reads 0
    too); a loss that reaches 0 gives 1. ``nan`` when the sweep has no finite loss to say
    it with, or starts at exactly 0. The fraction assumes the loss's floor is near 0 (as
    for cross-entropy and squared error); a loss with a large constant offset reads low.

    >>> from types import SimpleNamespace
    >>> flat = SimpleNamespace(losses=[2.3] * 10, smoothed=[2.3] * 9 + [2.2], divergence_index=None)
    >>> round(sweep_progress(flat), 3)
    0.043
    """
    losses = np.asarray(result.losses, dtype=float)
    smoothed = np.asarray(result.smoothed, dtype=float)
    stop = result.divergence_index if result.divergence_index is not None else len(smoothed)
    head = losses[:min(HEAD, stop)]
    head = head[np.isfinite(head)]
    body = smoothed[:stop][np.isfinite(smoothed[:stop])]
    if not len(head) or not len(body):
        return math.nan
    start = float(np.median(head))
    if start == 0.0:
        return math.nan
    return max(0.0, (start - float(body.min())) / abs(start))


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
    for index, loss in enumerate(result.losses):
        if watch.update(float(loss)):
            # the loss of step i is taken before update i: the update that blew it up was
            # made at the rate before (the range test's own edge reads it the same way)
            return Edge(float(result.lrs[max(0, index - 1)]), True, result.steps,
                        result.suggestion, result)
    smoothed = np.asarray(result.smoothed, dtype=float)
    finite = np.isfinite(smoothed)
    if finite.any():
        index = int(np.nanargmin(np.where(finite, smoothed, np.nan)))
        top = float(result.lrs[index])
    else:  # the very first loss was not finite: every rate tried is too large
        top = float(result.lrs[0])
    return Edge(top, False, result.steps, result.suggestion, result)
