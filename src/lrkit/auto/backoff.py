"""How far to lower the rate after the final run blew up: from how fast the loss grew.

Gradient descent at rate ``lr`` multiplies an unstable direction of curvature ``lam`` by
``|lr * lam - 1|`` per update, so its share of the loss (the excess over the loss's floor)
grows by ``g = (lr * lam - 1) ** 2`` per update, and the largest stable rate is::

    2 / lam = lr * 2 / (1 + sqrt(g))

A blow-up that grew slowly (``g`` near 1) came from a rate just above the edge, and a
small step back is enough; halving there lands far below the best rate on a sharp problem,
whose best sits right under the edge. A blow-up that grew fast came from far above it.
The same estimate refines the range test's edge (:func:`lrkit.finder.divergence.growth_edge`);
here it sets the factor of the step back, within ``[lowest, highest]``, and falls back to
halving when there is no clean geometric growth to measure (a sudden jump, a non-finite
loss, a trend).

>>> x, losses = 1.0, [0.5] * 10     # a floor at 0.5, then a direction blows up:
>>> for _ in range(6):                # curvature 10 at lr 0.3 multiplies it by |3 - 1| = 2
...     losses.append(0.5 + x * x); x *= 2.0
>>> round(backoff_factor(losses), 3)  # the edge 2 / 10 is 2/3 of 0.3
0.667
>>> backoff_factor([1.0, 0.9, 0.8, 50.0])   # a sudden jump: nothing to measure, halve
0.5
"""

from __future__ import annotations

import math
from collections.abc import Sequence

#: a step of the blow-up grows the excess over the floor by at least this factor
GROWTH_FACTOR = 1.2
#: rising steps in a row needed to call it geometric growth
MIN_RISES = 3
#: the loss's floor is the lowest of this many losses before the rise
FLOOR_WINDOW = 20


def backoff_factor(
    losses: Sequence[float],
    *,
    default: float = 0.5,
    lowest: float = 0.25,
    highest: float = 0.75,
) -> float:
    """The factor to multiply the rate by after ``losses`` (the run's recent training
    losses, the one that blew up last) blew up: ``2 / (1 + sqrt(g))`` for the fastest
    per-step growth ``g`` of the excess over the floor in the geometric rise that ends at
    the last loss, clipped to ``[lowest, highest]``; ``default`` without such a rise (at
    least ``MIN_RISES`` steps in a row each growing the excess by ``GROWTH_FACTOR``)."""
    values = [float(v) for v in losses]
    if len(values) < MIN_RISES + 2 or not all(math.isfinite(v) for v in values[-MIN_RISES - 1:]):
        return default
    end = len(values) - 1
    floor = min((v for v in values[max(0, end - FLOOR_WINDOW):end] if math.isfinite(v)),
                default=math.nan)
    if not math.isfinite(floor):
        return default
    excess = [v - floor for v in values]
    start = end
    while start > 0 and excess[start - 1] > 0 and excess[start] > GROWTH_FACTOR * excess[start - 1]:
        start -= 1
    if end - start < MIN_RISES:
        return default
    growth = max(excess[i + 1] / excess[i] for i in range(start, end))
    return min(highest, max(lowest, 2.0 / (1.0 + math.sqrt(growth))))
