"""Racing candidate peak rates on the schedule compressed to a short horizon.

Every candidate starts from the same snapshot, sees the same batches and runs the whole
schedule shape squeezed into ``horizon`` steps, ``lr_t = lr * schedule(round(t * steps /
horizon))``, then is scored on held-back batches. Running the full shape (warmup, decay
to the end) ranks peak rates much more like full runs do than a short window at a
constant rate, which favours rates that look good now and are too small under decay.

>>> compressed_multipliers(lambda t: 1.0 - t / 100, steps=100, horizon=4)
[1.0, 0.75, 0.5, 0.25]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np


def compressed_multipliers(
    schedule: Callable[[int], float], *, steps: int, horizon: int
) -> list[float]:
    """The schedule's multipliers over ``steps`` steps, sampled at ``horizon`` evenly spaced steps."""
    return [float(schedule(int(round(t * steps / horizon)))) for t in range(horizon)]


def parabola_minimum(log_lrs: Sequence[float], scores: Sequence[float]) -> float | None:
    """The minimum of the parabola through three equally spaced points, or None if not convex.

    With spacing ``d`` and values ``a, b, c`` at ``x-d, x, x+d``, the vertex is at
    ``x + d * (a - c) / (2 * (a - 2b + c))``; the result is kept within ``x +- d/2``.

    >>> round(parabola_minimum([0.0, 1.0, 2.0], [1.0, 0.0, 1.0]), 6)
    1.0
    """
    a, b, c = scores
    if not all(math.isfinite(v) for v in (a, b, c)):
        return None
    curvature = a - 2 * b + c
    if curvature <= 0:
        return None
    d = (log_lrs[2] - log_lrs[0]) / 2
    offset = d * (a - c) / (2 * curvature)
    return float(log_lrs[1] + np.clip(offset, -d / 2, d / 2))
