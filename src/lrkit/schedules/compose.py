"""Composition: ``warmup(warmup_steps, then)`` and ``join(schedules, boundaries)``.

Both run every part on its own local clock (as optax's ``join_schedules`` does): the part
that starts at step ``b`` sees step ``t - b``. A part's horizon therefore never counts the
steps before it.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

import numpy as np

from lrkit.schedules.base import Schedule, check_steps

__all__ = ["warmup", "join", "check_schedule"]


def check_schedule(name: str, value: object) -> Schedule:
    if not isinstance(value, Schedule):
        raise TypeError(f"`{name}` must be an lrkit schedule, but got {name}={value!r}")
    return value


class Warmup(Schedule):
    name = "warmup"
    positional = ("warmup_steps", "then")

    def _scalar(self, t: float) -> float:
        w = self._params["warmup_steps"]
        then = self._params["then"]
        if t >= w:
            return then._scalar(t - w)
        return then._scalar(0) * (t + 1) / (w + 1)

    def _array(self, t: np.ndarray) -> np.ndarray:
        w = self._params["warmup_steps"]
        then = self._params["then"]
        out = then._array(np.maximum(t - w, 0.0))
        ramp = t < w
        out[ramp] = then._scalar(0) * (t[ramp] + 1.0) / (w + 1.0)
        return out

    @property
    def horizon(self) -> int | None:
        inner = self._params["then"].horizon
        return None if inner is None else self._params["warmup_steps"] + inner


def warmup(warmup_steps: int, then: Schedule) -> Schedule:
    """A linear ramp over ``warmup_steps`` updates, then ``then`` on its own clock.

    ``s(t) = then(0) * (t + 1) / (w + 1)`` for ``t < w``, and ``then(t - w)`` from ``t = w``.
    The ramp starts above zero (``then(0) / (w + 1)`` at step 0, so the first update is not
    wasted) and hands over continuously: extended to ``t = w`` it reaches ``then(0)``
    exactly. The horizon of ``then`` excludes the warmup: ``warmup(100, cosine(1000))``
    reaches its final value at step 1100. ``warmup_steps=0`` is ``then`` itself.

    >>> from lrkit.schedules import constant
    >>> s = warmup(3, constant())
    >>> [s(t) for t in range(5)]
    [0.25, 0.5, 0.75, 1.0, 1.0]
    """
    return Warmup(
        warmup_steps=check_steps("warmup_steps", warmup_steps, minimum=0),
        then=check_schedule("then", then),
    )


class Join(Schedule):
    name = "join"
    positional = ("schedules", "boundaries")

    def _scalar(self, t: float) -> float:
        boundaries = self._params["boundaries"]
        i = bisect_right(boundaries, t)
        start = boundaries[i - 1] if i else 0
        return self._params["schedules"][i]._scalar(t - start)

    def _array(self, t: np.ndarray) -> np.ndarray:
        boundaries = self._params["boundaries"]
        parts = self._params["schedules"]
        which = np.searchsorted(np.asarray(boundaries, dtype=np.float64), t, side="right")
        out = np.empty(t.shape, dtype=np.float64)
        starts = [0, *boundaries]
        for i, part in enumerate(parts):
            mask = which == i
            if np.any(mask):
                out[mask] = part._array(t[mask] - starts[i])
        return out

    @property
    def horizon(self) -> int | None:
        inner = self._params["schedules"][-1].horizon
        boundaries = self._params["boundaries"]
        if inner is None:
            return None
        return (boundaries[-1] if boundaries else 0) + inner


def join(schedules: Sequence[Schedule], boundaries: Sequence[int]) -> Schedule:
    """Run ``schedules[i]`` from ``boundaries[i-1]`` to ``boundaries[i]``, each on its own clock.

    ``s(t) = schedules[i](t - boundaries[i-1])`` where ``i`` counts the boundaries ``<= t``
    (``boundaries[-1]`` read as 0 for the first part). There is one boundary fewer than
    schedules; boundaries are strictly increasing positive steps. A join is continuous only
    if its parts meet; lrkit does not force them to.

    >>> from lrkit.schedules import constant, cosine, linear
    >>> s = join([linear(0.1, 1.0, 10), cosine(90)], [10])
    >>> s(0), s(10), s(100)
    (0.1, 1.0, 0.0)
    """
    if isinstance(schedules, (str, bytes, Schedule)) or not isinstance(schedules, Sequence):
        raise TypeError(
            f"`schedules` must be a list of lrkit schedules, but got schedules={schedules!r}"
        )
    if isinstance(boundaries, (str, bytes)) or not isinstance(boundaries, Sequence):
        raise TypeError(
            f"`boundaries` must be a list of increasing steps, but got boundaries={boundaries!r}"
        )
    parts = [check_schedule("schedules", s) for s in schedules]
    if not parts:
        raise ValueError(f"`schedules` must not be empty, but got schedules={schedules!r}")
    checked = [check_steps("boundaries", b, minimum=1) for b in boundaries]
    if len(checked) != len(parts) - 1:
        raise ValueError(
            f"`boundaries` must have one entry fewer than `schedules` ({len(parts) - 1}), "
            f"but got boundaries={list(boundaries)!r}"
        )
    if any(b <= a for a, b in zip(checked, checked[1:], strict=False)):
        raise ValueError(
            f"`boundaries` must be strictly increasing, but got boundaries={list(boundaries)!r}"
        )
    return Join(schedules=tuple(parts), boundaries=tuple(checked))
