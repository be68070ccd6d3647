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
    """The minimum of the parabola through three points ``x0 < x1 < x2``, or None if not convex.

    With ``a = x1 - x0``, ``c = x2 - x1`` and values ``y0, y1, y2``, the vertex is at
    ``x1 - ((y2 - y1) a^2 - (y0 - y1) c^2) / (2 ((y2 - y1) a + (y0 - y1) c))`` (for equal
    spacing ``d``: ``x1 + d (y0 - y2) / (2 (y0 - 2 y1 + y2))``); the result is kept within
    half a spacing of ``x1`` on either side.

    >>> round(parabola_minimum([0.0, 1.0, 2.0], [1.0, 0.0, 1.0]), 6)
    1.0
    """
    y0, y1, y2 = (float(v) for v in scores)
    if not all(math.isfinite(v) for v in (y0, y1, y2)):
        return None
    x0, x1, x2 = (float(v) for v in log_lrs)
    a, c = x1 - x0, x2 - x1
    rise_left, rise_right = y0 - y1, y2 - y1
    # convex through the three points: the slopes increase from left to right
    if rise_right / c + rise_left / a <= 0:
        return None
    offset = -(rise_right * a * a - rise_left * c * c) / (2 * (rise_right * a + rise_left * c))
    return float(x1 + np.clip(offset, -a / 2, c / 2))


def walk_race(
    score: Callable[[float], float],
    *,
    top: float,
    slots: int,
    spacing: float = 3.0,
    start: int = -2,
) -> list[tuple[float, float]]:
    """Race at most ``slots`` rates on the lattice ``top * spacing**k`` (``k <= 0``), walking
    towards the better side until a candidate is worse, then refining half a step either
    side of the best; returns every ``(rate, score)`` raced, in the order raced.

    ``score(lr)`` trains one candidate and returns its score (lower is better, ``inf`` for a
    blow-up; ``nan`` counts as ``inf``). The walk starts with ``k = start`` and ``start + 1``;
    it goes up (towards ``top``, never past it) when the upper one scored better, down
    otherwise (ties included), and stops at the first candidate that scores no better than
    the best so far. While every candidate has blown up it keeps going down. The slots left
    then go to ``k = best +- 1/2``, the side of the better neighbour first (the side of a
    blow-up counts as worse): where the valley's floor lies between two lattice points, one
    of the half steps lands near it.

    >>> walk = walk_race(lambda lr: (math.log(lr) - math.log(0.05)) ** 2, top=1.0, slots=5)
    >>> [round(lr, 3) for lr, _ in walk]
    [0.111, 0.333, 0.037, 0.012, 0.064]
    """
    slots = int(slots)
    if slots < 2:
        raise ValueError(f"`slots` must be >= 2, but got slots={slots!r}")
    if not (spacing > 1 and math.isfinite(spacing)):
        raise ValueError(f"`spacing` must be a finite number > 1 (the lattice runs down from "
                         f"`top`), "
                         f"but got spacing={spacing!r}")
    start = min(int(start), -1)
    raced: dict[float, float] = {}

    def race(k: float) -> None:
        value = float(score(top * spacing ** k))
        raced[k] = math.inf if math.isnan(value) else value

    def best() -> float:
        return min(raced, key=lambda k: (raced[k], -k))

    race(start)
    race(start + 1)
    direction = 1 if raced[start + 1] < raced[start] else -1
    while len(raced) < slots:
        if all(math.isinf(v) and v > 0 for v in raced.values()):
            race(min(raced) - 1)  # nothing trained yet: lower still
            continue
        # among equal scores, walk on from the one furthest in the walk's direction
        here = min(raced, key=lambda k: (raced[k], -k * direction))
        ahead = here + direction
        if ahead > 0 or ahead in raced:
            break
        race(ahead)
        if not raced[ahead] < raced[here]:
            break
    here = best()

    def side_score(side: int) -> float:
        neighbour = here + side
        return raced.get(neighbour, math.inf if neighbour > 0 else math.nan)

    # the better neighbour's side first; an untried neighbour (nan) ranks after a tried one
    sides = sorted((1, -1), key=lambda s: (math.isnan(side_score(s)), side_score(s)))
    for side in sides:
        half = here + side / 2
        if len(raced) >= slots or half > 0:
            continue
        race(half)
    return [(top * spacing ** k, s) for k, s in raced.items()]
