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
