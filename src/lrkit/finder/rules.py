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
- :func:`lrkit_default`: lrkit's rule, see its docstring.

>>> import numpy as np
>>> lrs = np.geomspace(1e-4, 1.0, 41)
>>> losses = 1.0 / (1.0 + lrs * 100)   # falls fastest around lr = 1e-2
>>> round(steepest(lrs, losses), 4)
0.01
"""

from __future__ import annotations

import math

import numpy as np

# lrkit's default: this fraction of the divergence edge, refined towards the valley rule.
# Calibrated by benchmarks/finder_quality.py on the built-in problems (docs/benchmarks/finder.md).
EDGE_FRACTION = 0.3
# how far (factor) the valley may pull the default away from EDGE_FRACTION * edge
VALLEY_PULL = 2.0


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


def lrkit_default(lrs: np.ndarray, smoothed: np.ndarray, stop: int | None,
                  divergence_lr: float | None) -> float | None:
    """lrkit's default: a calibrated fraction of the divergence edge, pulled towards the
    longest-valley pick by at most a factor ``VALLEY_PULL``::

        anchor = EDGE_FRACTION * edge
        pick   = sqrt(anchor * clip(valley, anchor / VALLEY_PULL**2, anchor * VALLEY_PULL**2))

    The edge (the stability limit) is the feature of the curve that moves least with
    noise and smoothing; the valley carries the curve's own opinion about where progress
    is made. Without an edge (the sweep ended first) it falls back to the valley rule,
    capped at a tenth of the last rate tried.
    """
    valley_lr = valley(lrs, smoothed, stop)
    if divergence_lr is None:
        if valley_lr is None:
            return None
        return float(min(valley_lr, np.asarray(lrs, dtype=float)[-1] / 10.0))
    anchor = EDGE_FRACTION * divergence_lr
    if valley_lr is None:
        return float(anchor)
    pulled = float(np.clip(valley_lr, anchor / VALLEY_PULL**2, anchor * VALLEY_PULL**2))
    return float(math.sqrt(anchor * pulled))
