"""How far to lower the rate after the final run blew up: from how fast the loss grew.

Gradient descent at rate ``lr`` multiplies an unstable direction of curvature ``lam`` by
``|lr * lam - 1|`` per update, so its share of the loss (the excess over the floor the loss
held before) grows by ``g = (lr * lam - 1) ** 2`` per update, and the largest stable rate
is::

    2 / lam = lr * 2 / (1 + sqrt(g))

A blow-up that grew slowly came from a rate just above the edge, and a small step back is
enough; halving there lands far below the best rate on a sharp problem, whose best sits
right under the edge. A blow-up that grew fast came from far above it. The same estimate
refines the range test's edge (:func:`lrkit.finder.divergence.growth_edge`).

The growth is read only where it is clean: a rise of at least ``MIN_RISES`` steps, each
growing the excess by ``GROWTH_FACTOR`` or more, where the excess stands clear of the
loss's noise before the rise, and accelerating (a trend that climbs by the same amount
each step is not an unstable direction). The fastest step of that rise is taken, but for
its first (which a floor still falling under the rise inflates most): the excess also holds
directions that do not grow, so a step reads the growth too low rather than too high.
Anything else (a sudden jump out of the noise, a nan, a steady trend) gives ``None``:
nothing to read.

>>> x, losses = 1.0, [0.5] * 10     # a floor at 0.5, then a direction blows up:
>>> for _ in range(6):                # curvature 10 at lr 0.3 multiplies it by |3 - 1| = 2
...     losses.append(0.5 + x * x); x *= 2.0
>>> round(backoff_factor(losses), 3)  # the edge 2 / 10 is 2/3 of 0.3
0.667
>>> print(backoff_factor([1.0, 0.9, 0.8, 0.7, 0.6, 50.0]))   # a sudden jump
None
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from lrkit._validation import check_range

#: a step of the rise grows the excess over the floor by at least this factor
GROWTH_FACTOR = 1.1
#: rising steps in a row needed to call it geometric growth
MIN_RISES = 3
#: the floor and the noise are read from this many losses before the rise
FLOOR_WINDOW = 20
#: the growth is measured only where the excess exceeds this many noise units
CLEAR = 3.0


def backoff_factor(
    losses: Sequence[float], *, lowest: float = 0.25, highest: float = 0.75
) -> float | None:
    """The factor to multiply the rate by after ``losses`` (the run's training losses, the
    one that blew up last) blew up: ``2 / (1 + sqrt(g))`` for the fastest per-step growth
    ``g`` of the excess over the floor in the geometric rise that ends at the last loss,
    clipped to ``[lowest, highest]``; ``None`` when there is no such rise to read (see the
    module doc)."""
    lowest = check_range("lowest", lowest, 0.0, 1.0, low_open=True)
    highest = check_range("highest", highest, lowest, 1.0)
    values = np.asarray(losses, dtype=float)
    end = len(values) - 1
    if end < MIN_RISES + 1 or not np.isfinite(values[-MIN_RISES - 1:]).all():
        return None
    window = values[max(0, end - FLOOR_WINDOW):end]
    window = window[np.isfinite(window)]
    if not window.size:
        return None
    # the rise that ends at the last loss, against the lowest loss of the recent window
    floor = float(window.min())
    start = end
    while (start > 0 and values[start - 1] > floor
           and values[start] - floor > GROWTH_FACTOR * (values[start - 1] - floor)):
        start -= 1
    if end - start < MIN_RISES:
        return None
    # the floor and the noise the loss had before the rise (the rise may have started at
    # a new low, or run longer than the window)
    before = values[max(0, start - FLOOR_WINDOW):start]
    before = before[np.isfinite(before)]
    if before.size:
        floor = min(floor, float(before.min()))
    noise = float(1.4826 * np.median(np.abs(np.diff(before)))) if before.size > 2 else 0.0
    excess = values[start:end + 1] - floor
    excess = excess[np.argmax(excess > CLEAR * noise):]  # from where it stands clear
    if len(excess) < MIN_RISES + 1 or not (excess > CLEAR * noise).all():
        return None  # a jump out of the noise: no growth to read
    rises = np.diff(excess)
    if not rises[-1] > GROWTH_FACTOR * rises[-2]:
        return None  # rising by the same amount each step: a trend, not a growth
    # the first ratio is the one a floor still falling under the rise inflates most
    growth = float(np.max(excess[2:] / excess[1:-1]))
    return float(min(highest, max(lowest, 2.0 / (1.0 + math.sqrt(growth)))))
