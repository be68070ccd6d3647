"""Shapes of transformer training: inverse_sqrt (Vaswani et al.) and wsd (warmup-stable-decay).

Both warm up with lrkit's ramp ``(t + 1) / (w + 1)``, which starts above zero and reaches 1
at ``t = w``.
"""

from __future__ import annotations

import math

import numpy as np

from lrkit._validation import check_choice
from lrkit.schedules.base import Schedule, check_steps
from lrkit.schedules.decay import check_final, check_total_steps

__all__ = ["inverse_sqrt", "wsd"]


class InverseSqrt(Schedule):
    name = "inverse_sqrt"
    positional = ("warmup_steps",)

    def _scalar(self, t: float) -> float:
        w = self._params["warmup_steps"]
        if t < w:
            return (t + 1) / (w + 1)
        return math.sqrt(w / t)

    def _array(self, t: np.ndarray) -> np.ndarray:
        w = float(self._params["warmup_steps"])
        return np.where(t < w, (t + 1.0) / (w + 1.0), np.sqrt(w / np.maximum(t, w)))


def inverse_sqrt(warmup_steps: int) -> Schedule:
    """Linear warmup, then decay with the inverse square root of the step.

    ``s(t) = (t + 1) / (w + 1)`` for ``t < w``, and ``sqrt(w / t)`` from ``t = w`` (where it
    is 1). The "Noam" schedule of the Transformer paper and fairseq, normalised to peak at 1.
    No horizon: it keeps decaying.

    >>> s = inverse_sqrt(100)
    >>> s(100), s(400)
    (1.0, 0.5)
    """
    return InverseSqrt(warmup_steps=check_steps("warmup_steps", warmup_steps, minimum=1))


_DECAYS = ("linear", "cosine", "1-sqrt")


class WSD(Schedule):
    name = "wsd"
    positional = ("total_steps", "warmup_steps", "decay_steps")
    defaults = {"final": 0.0, "decay": "linear"}

    def _scalar(self, t: float) -> float:
        p = self._params
        w, d, total = p["warmup_steps"], p["decay_steps"], p["total_steps"]
        if t < w:
            return (t + 1) / (w + 1)
        if t < total - d:
            return 1.0
        if t >= total:
            return p["final"]
        pct = (t - (total - d)) / d
        if p["decay"] == "linear":
            shape = 1.0 - pct
        elif p["decay"] == "cosine":
            shape = 0.5 * (1.0 + math.cos(math.pi * pct))
        else:
            shape = 1.0 - math.sqrt(pct)
        return p["final"] + (1.0 - p["final"]) * shape

    def _array(self, t: np.ndarray) -> np.ndarray:
        p = self._params
        w, d, total = p["warmup_steps"], p["decay_steps"], p["total_steps"]
        pct = np.clip((t - (total - d)) / d, 0.0, 1.0)
        if p["decay"] == "linear":
            shape = 1.0 - pct
        elif p["decay"] == "cosine":
            shape = 0.5 * (1.0 + np.cos(np.pi * pct))
        else:
            shape = 1.0 - np.sqrt(pct)
        out = p["final"] + (1.0 - p["final"]) * shape
        out[t < total - d] = 1.0
        ramp = t < w
        out[ramp] = (t[ramp] + 1.0) / (w + 1.0)
        out[t >= total] = p["final"]
        return out

    @property
    def horizon(self) -> int:
        return self._params["total_steps"]


def wsd(
    total_steps: int,
    warmup_steps: int,
    decay_steps: int,
    final: float = 0.0,
    decay: str = "linear",
) -> Schedule:
    """Warmup-stable-decay: ramp up, hold 1, then decay to ``final`` in the last ``decay_steps``.

    ``total_steps`` includes both the warmup and the decay; ``decay_steps`` is the length of
    the final decay phase (not a rate, not a period). With ``D = T - decay_steps`` and
    ``pct = (t - D) / decay_steps``:
    ``(t + 1) / (w + 1)`` for ``t < w``; ``1`` for ``w <= t < D``;
    ``final + (1 - final) * shape(pct)`` for ``D <= t < T``; ``final`` from ``T`` on, where
    ``shape`` is ``1 - pct`` ("linear"), ``(1 + cos(pi * pct)) / 2`` ("cosine") or
    ``1 - sqrt(pct)`` ("1-sqrt", Hägele et al. 2024).

    >>> s = wsd(1000, 100, 200)
    >>> s(100), s(799), s(900), s(1000)
    (1.0, 1.0, 0.5, 0.0)
    """
    total_steps = check_total_steps(total_steps)
    warmup_steps = check_steps("warmup_steps", warmup_steps, minimum=0)
    decay_steps = check_steps("decay_steps", decay_steps, minimum=1)
    if warmup_steps + decay_steps > total_steps:
        raise ValueError(
            "`warmup_steps + decay_steps <= total_steps` must hold, but got "
            f"(warmup_steps={warmup_steps}, decay_steps={decay_steps}, total_steps={total_steps})"
        )
    return WSD(
        total_steps=total_steps,
        warmup_steps=warmup_steps,
        decay_steps=decay_steps,
        final=check_final(final),
        decay=check_choice("decay", decay, _DECAYS),
    )
