"""Bias-corrected exponential moving average of a loss curve.

A plain moving average that starts at zero bends the first part of the curve down towards
zero (torch-lr-finder and many copies of it start from the first loss instead, which
over-weights it). The bias-corrected form used by Adam does neither::

    v_0 = 0,   v_i = beta * v_{i-1} + (1 - beta) * x_i,   s_i = v_i / (1 - beta ** i)

so ``s_1 = x_1`` exactly and every later point is a proper weighted mean of the losses
seen so far.

>>> ema([2.0, 2.0, 2.0], beta=0.9).tolist()
[2.0, 2.0, 2.0]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lrkit._validation import check_range


def ema(values: Sequence[float] | np.ndarray, beta: float = 0.9) -> np.ndarray:
    """The bias-corrected exponential moving average of ``values`` (``beta=0`` returns them).

    Works for negative values; non-finite values propagate from where they appear.

    >>> ema([1.0, 3.0], beta=0.5).tolist()
    [1.0, 2.3333333333333335]
    """
    beta = check_range("beta", beta, 0.0, 1.0, high_open=True)
    x = np.asarray(values, dtype=float)
    out = np.empty_like(x)
    v = 0.0
    weight = 1.0
    for i, value in enumerate(x):
        v = beta * v + (1.0 - beta) * value
        weight *= beta
        out[i] = v / (1.0 - weight)
    return out


def zero_phase(values: Sequence[float] | np.ndarray, beta: float = 0.9) -> np.ndarray:
    """A centred moving average, as wide as the moving average of ``beta`` is long: the
    same smoothing without the lag (a forward moving average trails the curve by about
    ``beta / (1 - beta)`` points, a factor of several in the rate on a range test). Its
    window is symmetric, ``2h + 1`` points with ``h = round(beta / (2 (1 - beta)))``,
    shrinking symmetrically at the ends, so a symmetric dip keeps its lowest point. For
    reading the curve after the sweep, not online.

    >>> zero_phase([4.0, 1.0, 0.0, 1.0, 4.0], beta=0.7).tolist()
    [4.0, 1.6666666666666667, 0.6666666666666666, 1.6666666666666667, 4.0]
    """
    beta = check_range("beta", beta, 0.0, 1.0, high_open=True)
    x = np.asarray(values, dtype=float)
    half = max(1, int(round(beta / (2.0 * (1.0 - beta)))))
    padded = np.concatenate([[0.0], np.cumsum(x)])
    out = np.empty_like(x)
    n = len(x)
    for i in range(n):
        k = min(half, i, n - 1 - i)
        out[i] = (padded[i + k + 1] - padded[i - k]) / (2 * k + 1)
    return out
