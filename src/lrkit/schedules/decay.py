"""Monotone shapes: constant, linear, step, multistep, exponential, inverse_time,
polynomial and cosine.

Each factory validates its arguments and returns an immutable :class:`Schedule`.
``t`` is the step; ``T`` is ``total_steps``; past ``T`` the value stays at its final value.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterator, Sequence

import numpy as np

from lrkit._validation import check_nonnegative, check_range
from lrkit.schedules.base import Schedule, check_steps, format_value

__all__ = [
    "constant",
    "linear",
    "step",
    "multistep",
    "exponential",
    "inverse_time",
    "polynomial",
    "cosine",
    "check_final",
    "check_total_steps",
]


def check_final(final: object) -> float:
    """``final`` is a multiplier in [0, 1] (the value a decay ends at)."""
    return check_range("final", final, 0.0, 1.0)


def check_total_steps(total_steps: object) -> int:
    return check_steps("total_steps", total_steps, minimum=1)


def _check_gamma(gamma: object) -> float:
    return check_range("gamma", gamma, 0.0, 1.0, low_open=True)


class Constant(Schedule):
    name = "constant"
    defaults = {"value": 1.0}

    def _printed(self) -> Iterator[str]:
        # constant(0.5) rather than constant(value=0.5); constant() for the default
        if self._params["value"] != 1.0:
            yield format_value(self._params["value"])

    def _scalar(self, t: float) -> float:
        return self._params["value"]

    def _array(self, t: np.ndarray) -> np.ndarray:
        return np.full(t.shape, self._params["value"])

    @property
    def horizon(self) -> int:
        return 0


def constant(value: float = 1.0) -> Schedule:
    """The same multiplier at every step: ``value``.

    >>> constant()(12345), constant(0.5)(0)
    (1.0, 0.5)
    """
    return Constant(value=check_nonnegative("value", value))


class Linear(Schedule):
    name = "linear"
    positional = ("start", "end", "total_steps")

    def _scalar(self, t: float) -> float:
        p = self._params
        total = p["total_steps"]
        if t >= total:
            return p["end"]
        return p["start"] + (p["end"] - p["start"]) * (t / total)

    def _array(self, t: np.ndarray) -> np.ndarray:
        p = self._params
        total = p["total_steps"]
        out = p["start"] + (p["end"] - p["start"]) * (np.minimum(t, total) / total)
        out[t >= total] = p["end"]
        return out

    @property
    def horizon(self) -> int:
        return self._params["total_steps"]


def linear(start: float, end: float, total_steps: int) -> Schedule:
    """A straight line from ``start`` at step 0 to ``end`` at ``total_steps``, then ``end``.

    ``s(t) = start + (end - start) * min(t, T) / T``. Same as ``torch.optim.lr_scheduler.LinearLR
    (start_factor=start, end_factor=end, total_iters=T)``.

    >>> s = linear(1.0, 0.0, 100)
    >>> s(0), s(25), s(100), s(10**9)
    (1.0, 0.75, 0.0, 0.0)
    """
    return Linear(
        start=check_nonnegative("start", start),
        end=check_nonnegative("end", end),
        total_steps=check_total_steps(total_steps),
    )


class Step(Schedule):
    name = "step"
    positional = ("every", "gamma")

    def _scalar(self, t: float) -> float:
        return self._params["gamma"] ** (t // self._params["every"])

    def _array(self, t: np.ndarray) -> np.ndarray:
        return np.power(self._params["gamma"], np.floor_divide(t, self._params["every"]))


def step(every: int, gamma: float) -> Schedule:
    """Multiply by ``gamma`` once per ``every`` steps: ``s(t) = gamma ** floor(t / every)``.

    Same as ``torch.optim.lr_scheduler.StepLR(step_size=every, gamma=gamma)``. No horizon.

    >>> s = step(10, 0.5)
    >>> s(9), s(10), s(25)
    (1.0, 0.5, 0.25)
    """
    return Step(every=check_steps("every", every, minimum=1), gamma=_check_gamma(gamma))


class Multistep(Schedule):
    name = "multistep"
    positional = ("milestones", "gamma")

    def _scalar(self, t: float) -> float:
        return self._params["gamma"] ** bisect_right(self._params["milestones"], t)

    def _array(self, t: np.ndarray) -> np.ndarray:
        drops = np.searchsorted(np.asarray(self._params["milestones"], dtype=np.float64), t,
                                side="right")
        return np.power(self._params["gamma"], drops.astype(np.float64))

    @property
    def horizon(self) -> int:
        return self._params["milestones"][-1]


def multistep(milestones: Sequence[int], gamma: float) -> Schedule:
    """Multiply by ``gamma`` at each milestone: ``s(t) = gamma ** #{m in milestones : m <= t}``.

    ``milestones`` are strictly increasing positive steps. Same as
    ``torch.optim.lr_scheduler.MultiStepLR(milestones, gamma)``; horizon: the last milestone.

    >>> s = multistep([100, 150], 0.1)
    >>> s(99), s(100), round(s(150), 12)
    (1.0, 0.1, 0.01)
    """
    if isinstance(milestones, (str, bytes)) or not isinstance(milestones, Sequence):
        raise TypeError(
            f"`milestones` must be a list of increasing steps, but got milestones={milestones!r}"
        )
    checked = [check_steps("milestones", m, minimum=1) for m in milestones]
    if not checked:
        raise ValueError(f"`milestones` must not be empty, but got milestones={milestones!r}")
    if any(b <= a for a, b in zip(checked, checked[1:], strict=False)):
        raise ValueError(
            f"`milestones` must be strictly increasing, but got milestones={list(milestones)!r}"
        )
    return Multistep(milestones=tuple(checked), gamma=_check_gamma(gamma))


class Exponential(Schedule):
    name = "exponential"
    positional = ("gamma",)

    def _scalar(self, t: float) -> float:
        return self._params["gamma"] ** t

    def _array(self, t: np.ndarray) -> np.ndarray:
        return np.power(self._params["gamma"], t)


def exponential(gamma: float) -> Schedule:
    """Multiply by ``gamma`` every step: ``s(t) = gamma ** t``, with ``0 < gamma <= 1``.

    Same as ``torch.optim.lr_scheduler.ExponentialLR(gamma)``. No horizon.

    >>> exponential(0.5)(3)
    0.125
    """
    return Exponential(gamma=_check_gamma(gamma))


class InverseTime(Schedule):
    name = "inverse_time"
    positional = ("rate",)

    def _scalar(self, t: float) -> float:
        return 1.0 / (1.0 + self._params["rate"] * t)

    def _array(self, t: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + self._params["rate"] * t)


def inverse_time(rate: float) -> Schedule:
    """The classic time-based decay ``s(t) = 1 / (1 + rate * t)`` (Keras' ``decay``).

    >>> inverse_time(0.01)(100)
    0.5
    """
    return InverseTime(rate=check_nonnegative("rate", rate))


class Polynomial(Schedule):
    name = "polynomial"
    positional = ("total_steps",)
    defaults = {"power": 1.0, "final": 0.0}

    def _scalar(self, t: float) -> float:
        p = self._params
        total = p["total_steps"]
        if t >= total:
            return p["final"]
        return p["final"] + (1.0 - p["final"]) * (1.0 - t / total) ** p["power"]

    def _array(self, t: np.ndarray) -> np.ndarray:
        p = self._params
        remaining = 1.0 - np.minimum(t, p["total_steps"]) / p["total_steps"]
        out = p["final"] + (1.0 - p["final"]) * np.power(remaining, p["power"])
        out[t >= p["total_steps"]] = p["final"]
        return out

    @property
    def horizon(self) -> int:
        return self._params["total_steps"]


def polynomial(total_steps: int, power: float = 1.0, final: float = 0.0) -> Schedule:
    """Polynomial decay from 1 to ``final`` over ``total_steps``, then ``final``.

    ``s(t) = final + (1 - final) * (1 - min(t, T) / T) ** power``. With ``final=0`` this is
    ``torch.optim.lr_scheduler.PolynomialLR(total_iters=T, power=power)``.

    >>> polynomial(100, power=2.0)(50)
    0.25
    """
    return Polynomial(
        total_steps=check_total_steps(total_steps),
        power=check_range("power", power, 0.0, math.inf, low_open=True, high_open=True),
        final=check_final(final),
    )


class Cosine(Schedule):
    name = "cosine"
    positional = ("total_steps",)
    defaults = {"final": 0.0}

    def _scalar(self, t: float) -> float:
        p = self._params
        total = p["total_steps"]
        if t >= total:
            return p["final"]
        return p["final"] + (1.0 - p["final"]) * 0.5 * (1.0 + math.cos(math.pi * t / total))

    def _array(self, t: np.ndarray) -> np.ndarray:
        p = self._params
        total = p["total_steps"]
        out = p["final"] + (1.0 - p["final"]) * 0.5 * (
            1.0 + np.cos(np.pi * np.minimum(t, total) / total)
        )
        out[t >= total] = p["final"]
        return out

    @property
    def horizon(self) -> int:
        return self._params["total_steps"]


def cosine(total_steps: int, final: float = 0.0) -> Schedule:
    """Half a cosine from 1 at step 0 down to ``final`` at ``total_steps``, then ``final``.

    ``s(t) = final + (1 - final) * (1 + cos(pi * min(t, T) / T)) / 2``. Inside ``T`` this is
    ``torch.optim.lr_scheduler.CosineAnnealingLR(T_max=T, eta_min=final * base_lr)``; past
    ``T`` torch's curve rises again, lrkit's holds ``final``. The horizon excludes any warmup
    (wrap it: ``warmup(100, cosine(10000))`` spans 10100 steps).

    >>> s = cosine(100, final=0.1)
    >>> s(0), s(50), s(100), s(10**12)
    (1.0, 0.55, 0.1, 0.1)
    """
    return Cosine(total_steps=check_total_steps(total_steps), final=check_final(final))
