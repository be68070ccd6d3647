"""Suggestion rules: pure functions from a range-test curve to a learning rate.

Every rule takes the rates tried (``lrs``, increasing), the smoothed losses and ``stop``,
the number of leading points that precede the blow-up (points at and after the divergence
onset are ignored), and returns a rate or None when the curve gives it nothing to work
with. They know nothing about torch or about how the curve was produced.

- :func:`steepest`: where the smoothed loss falls fastest against ``log(lr)``
  (torch-lr-finder's and fastai's ``steep``), skipping the first 10% of the curve, where
  the moving average is still settling.
- :func:`valley`: fastai's longest-valley rule: the longest decreasing run of the
  smoothed loss, at 1/2 of its way down (fastai picks ``start + len/3 + len/6``).
- :func:`minimum_tenth`: the rate at the lowest smoothed loss, divided by 10.
- :func:`edge_fraction`: a fixed fraction of the divergence edge.
- :func:`lrkit_default`: lrkit's rule: a fraction of the lag-free lowest point, capped by
  a fraction of the edge (see its docstring).

>>> import numpy as np
>>> lrs = np.geomspace(1e-4, 1.0, 41)
>>> losses = 1.0 / (1.0 + lrs * 100)   # falls fastest around lr = 1e-2
>>> round(steepest(lrs, losses), 4)
0.01
"""

from __future__ import annotations

import math

import numpy as np

# lrkit's default (see lrkit_default): fractions calibrated by benchmarks/finder_quality.py
# on the built-in problems (docs/benchmarks/finder.md)
MINIMUM_FRACTION = 0.7
EDGE_FRACTION = 0.7
# without a divergence, the largest rate known to be stable is the last one tried
NO_EDGE_FRACTION = 0.1
# a curve that hardly fell before it blew up has no lowest point worth reading
FLAT_EDGE_FRACTION = 1.0 / 3.0


def _clean(lrs: np.ndarray, smoothed: np.ndarray, stop: int | None) -> tuple[np.ndarray, np.ndarray]:
    lrs = np.asarray(lrs, dtype=float)
    smoothed = np.asarray(smoothed, dtype=float)
    n = len(smoothed) if stop is None else max(0, min(int(stop), len(smoothed)))
    lrs, smoothed = lrs[:n], smoothed[:n]
    finite = np.isfinite(smoothed)
    if not finite.all():
        n = int(np.argmin(finite))
        lrs, smoothed = lrs[:n], smoothed[:n]
    return lrs, smoothed


def steepest(lrs: np.ndarray, smoothed: np.ndarray, stop: int | None = None,
             skip_start: float = 0.1) -> float | None:
    """The rate where ``d smoothed / d log(lr)`` is most negative (None if it never falls)."""
    lrs, smoothed = _clean(lrs, smoothed, stop)
    first = int(math.ceil(skip_start * len(lrs)))
    if len(lrs) - first < 3:
        return None
    slope = np.gradient(smoothed[first:], np.log(lrs[first:]))
    index = int(np.argmin(slope))
    if slope[index] >= 0:
        return None
    return float(lrs[first + index])


def longest_valley(smoothed: np.ndarray) -> tuple[int, int]:
    """``(start, end)`` indices of the longest strictly decreasing subsequence ending at
    ``end`` (fastai's definition: the run may skip over bumps)."""
    values = np.asarray(smoothed, dtype=float)
    n = len(values)
    length = np.ones(n, dtype=int)
    for i in range(1, n):
        higher = values[:i] > values[i]
        if higher.any():
            length[i] = 1 + int(length[:i][higher].max())
    end = int(np.argmax(length))
    if length[end] == 1:
        return 0, 0
    return end - int(length[end]), end


def valley(lrs: np.ndarray, smoothed: np.ndarray, stop: int | None = None,
           skip_start: float = 0.1) -> float | None:
    """fastai's longest-valley rule: the longest decreasing run of the smoothed loss,
    picked at ``start + len/3 + len/6`` (about half way down)."""
    lrs, smoothed = _clean(lrs, smoothed, stop)
    first = int(math.ceil(skip_start * len(lrs)))
    if len(lrs) - first < 3:
        return None
    start, end = longest_valley(smoothed[first:])
    if end - start < 2:
        return None
    section = (end - start) / 3
    index = first + max(start, 0) + int(section) + int(section / 2)
    return float(lrs[min(index, len(lrs) - 1)])


def minimum_tenth(lrs: np.ndarray, smoothed: np.ndarray, stop: int | None = None) -> float | None:
    """The rate at the lowest smoothed loss, divided by 10."""
    lrs, smoothed = _clean(lrs, smoothed, stop)
    if len(lrs) < 3:
        return None
    return float(lrs[int(np.argmin(smoothed))] / 10.0)


def edge_fraction(divergence_lr: float | None, fraction: float = EDGE_FRACTION) -> float | None:
    """``fraction * divergence_lr`` (None when the sweep never diverged)."""
    if divergence_lr is None:
        return None
    return float(fraction * divergence_lr)


def lowest_point(lrs: np.ndarray, losses: np.ndarray, stop: int | None = None,
                 beta: float = 0.9) -> float | None:
    """The rate where the lag-free smoothed loss (:func:`~lrkit.finder.smoothing.zero_phase`)
    is lowest, before the blow-up."""
    from lrkit.finder.smoothing import zero_phase

    lrs, losses = _clean(lrs, losses, stop)
    if len(lrs) < 3:
        return None
    return float(lrs[int(np.argmin(zero_phase(losses, beta)))])


def lrkit_default(lrs: np.ndarray, losses: np.ndarray, stop: int | None,
                  divergence_lr: float | None, beta: float = 0.9, *,
                  flat: bool = False) -> float | None:
    """lrkit's default: a fraction of the rate at the curve's lowest point, never above a
    fraction of the divergence edge::

        pick = min(MINIMUM_FRACTION * lr_lowest, EDGE_FRACTION * edge)

    ``lr_lowest`` is read from the raw losses smoothed without lag (the usual moving
    average trails the curve by several points, a factor of several in the rate), so it
    marks where the sweep made its fastest progress; the edge, the feature of the curve
    that noise moves least, caps it where the lowest point crowds the blow-up (as on a
    convex problem, whose loss falls until the rate is unstable). A sweep that never
    diverged knows no edge, only that the last rate tried was stable: the cap is then
    ``NO_EDGE_FRACTION * lrs[-1]``. A ``flat`` curve (one that never fell by more than its
    noise) has no lowest point worth reading: with an edge the pick is then
    ``FLAT_EDGE_FRACTION * edge``, without one there is none.
    """
    if flat:
        return edge_fraction(divergence_lr, FLAT_EDGE_FRACTION)
    lowest = lowest_point(lrs, losses, stop, beta)
    if lowest is None or lowest <= float(np.asarray(lrs, dtype=float)[0]):
        return None  # the curve never fell
    if divergence_lr is not None:
        cap = EDGE_FRACTION * divergence_lr
    else:
        cap = NO_EDGE_FRACTION * float(np.asarray(lrs, dtype=float)[-1])
    return float(min(MINIMUM_FRACTION * lowest, cap))
