"""Optimizers in numpy, each a small pure update that reads as its equations.

Every optimizer is a frozen dataclass of hyperparameters with two methods:

* ``init(x) -> state``: the optimizer's memory before the first step (``state.step == 0``);
* ``update(x, grad, state) -> (x, state)``: one step, returning new arrays (nothing is
  modified in place).

The rate used at step ``t`` (counted from 0) is ``rate(t)``:

* ``lr`` a number: ``rate(t) = lr * schedule(t)`` (``schedule`` defaults to a constant 1), so
  any lrkit schedule such as ``lrkit.schedules.cosine(200)`` shapes it;
* ``lr`` a callable ``step -> rate``: ``rate(t) = lr(t)``;
* ``lr`` a 1-D array of rates with ``x`` of shape ``(len(lr), dim)``: one independent copy per
  rate, row by row, which is how :mod:`lrkit.lab.experiments` sweeps a whole grid at once.

Weight decay, and every other detail, follows ``torch.optim`` exactly (L2 decay added to the
gradient, except AdamW's decoupled decay), so that a run here and in PyTorch agree step for
step; ``tests/lab`` checks this for 200 steps.

>>> import numpy as np
>>> opt = GD(lr=0.1)
>>> x, state = np.array([1.0]), opt.init(np.array([1.0]))
>>> x, state = opt.update(x, 2 * x, state)   # f(x) = x**2, gradient 2x
>>> round(float(x[0]), 6)
0.8
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numpy as np

from lrkit._validation import _fail, check_choice, check_nonnegative, check_range

Rate = float | Callable[[int], float] | np.ndarray


def _check_lr(lr: Any) -> Any:
    if callable(lr):
        return lr
    if isinstance(lr, np.ndarray) or isinstance(lr, (list, tuple)):
        arr = np.asarray(lr, dtype=float)
        if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
            _fail("lr", "a positive number, a callable step -> rate, or a 1-D array of positive "
                  "rates", lr)
        return arr
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real):
        _fail("lr", "a positive number, a callable step -> rate, or a 1-D array of positive "
              "rates", lr, TypeError)
    value = float(lr)
    if not np.isfinite(value) or value <= 0:
        _fail("lr", "a positive finite number", lr)
    return value


class _Optimizer:
    """Shared by every optimizer: validation of the rate and ``rate(step)``."""

    name: ClassVar[str] = ""
    lr: Rate
    schedule: Callable[[int], float] | None

    def _check_common(self) -> None:
        object.__setattr__(self, "lr", _check_lr(self.lr))
        if self.schedule is not None:
            if not callable(self.schedule):
                _fail("schedule", "a callable step -> multiplier, or None", self.schedule,
                      TypeError)
            if callable(self.lr):
                _fail("schedule", "None when `lr` is itself a callable", self.schedule)

    def rate(self, step: int) -> Any:
        """The learning rate at ``step`` (a float, or an ``(n, 1)`` column for an array ``lr``)."""
        if callable(self.lr):
            return float(self.lr(step))
        multiplier = 1.0 if self.schedule is None else float(self.schedule(step))
        if isinstance(self.lr, np.ndarray):
            return (self.lr * multiplier)[:, None]
        return self.lr * multiplier

    def init(self, x: np.ndarray) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def update(self, x: np.ndarray, grad: np.ndarray, state: Any) -> tuple[np.ndarray, Any]:
        raise NotImplementedError  # pragma: no cover - overridden


class StepState(NamedTuple):
    step: int


class MomentumState(NamedTuple):
    step: int
    buf: np.ndarray


class AccumulatorState(NamedTuple):
    step: int
    sum_sq: np.ndarray


class RMSPropState(NamedTuple):
    step: int
    sq_avg: np.ndarray
    buf: np.ndarray


class AdamState(NamedTuple):
    step: int
    m: np.ndarray
    v: np.ndarray


@dataclass(frozen=True)
class GD(_Optimizer):
    """Gradient descent (``torch.optim.SGD``)::

        g = grad + weight_decay * x
        x = x - lr_t * g
    """

    lr: Rate = 0.1
    schedule: Callable[[int], float] | None = None
    weight_decay: float = 0.0
    name: ClassVar[str] = "gd"

    def __post_init__(self) -> None:
        self._check_common()
        check_nonnegative("weight_decay", self.weight_decay)

    def init(self, x: np.ndarray) -> StepState:
        return StepState(step=0)

    def update(self, x: np.ndarray, grad: np.ndarray, state: StepState
               ) -> tuple[np.ndarray, StepState]:
        g = grad + self.weight_decay * x
        return x - self.rate(state.step) * g, StepState(state.step + 1)


@dataclass(frozen=True)
class HeavyBall(_Optimizer):
    """Polyak's heavy-ball momentum (``torch.optim.SGD(momentum=...)``)::

        g   = grad + weight_decay * x
        buf = momentum * buf + g
        x   = x - lr_t * buf

    With a constant rate this is ``x_{t+1} = x_t - lr * g_t + momentum * (x_t - x_{t-1})``.
    """

    lr: Rate = 0.1
    schedule: Callable[[int], float] | None = None
    momentum: float = 0.9
    weight_decay: float = 0.0
    name: ClassVar[str] = "heavy-ball"

    def __post_init__(self) -> None:
        self._check_common()
        check_range("momentum", self.momentum, 0.0, 1.0, high_open=True)
        check_nonnegative("weight_decay", self.weight_decay)

    def init(self, x: np.ndarray) -> MomentumState:
        return MomentumState(step=0, buf=np.zeros_like(x, dtype=float))

    def update(self, x: np.ndarray, grad: np.ndarray, state: MomentumState
               ) -> tuple[np.ndarray, MomentumState]:
        g = grad + self.weight_decay * x
        buf = self.momentum * state.buf + g
        return x - self.rate(state.step) * buf, MomentumState(state.step + 1, buf)


@dataclass(frozen=True)
class Nesterov(HeavyBall):
    """Nesterov momentum in PyTorch's form (``torch.optim.SGD(momentum=..., nesterov=True)``)::

        g   = grad + weight_decay * x
        buf = momentum * buf + g
        x   = x - lr_t * (g + momentum * buf)

    The state and the checks are heavy ball's; only the step looks ahead.
    """

    name: ClassVar[str] = "nesterov"

    def update(self, x: np.ndarray, grad: np.ndarray, state: MomentumState
               ) -> tuple[np.ndarray, MomentumState]:
        g = grad + self.weight_decay * x
        buf = self.momentum * state.buf + g
        x = x - self.rate(state.step) * (g + self.momentum * buf)
        return x, MomentumState(state.step + 1, buf)


@dataclass(frozen=True)
class AdaGrad(_Optimizer):
    """AdaGrad (``torch.optim.Adagrad``): a per-coordinate rate shrinking with the gradients seen::

        g      = grad + weight_decay * x
        sum_sq = sum_sq + g**2
        x      = x - lr_t * g / (sqrt(sum_sq) + eps)
    """

    lr: Rate = 0.01
    schedule: Callable[[int], float] | None = None
    eps: float = 1e-10
    weight_decay: float = 0.0
    name: ClassVar[str] = "adagrad"

    def __post_init__(self) -> None:
        self._check_common()
        check_nonnegative("eps", self.eps)
        check_nonnegative("weight_decay", self.weight_decay)

    def init(self, x: np.ndarray) -> AccumulatorState:
        return AccumulatorState(step=0, sum_sq=np.zeros_like(x, dtype=float))

    def update(self, x: np.ndarray, grad: np.ndarray, state: AccumulatorState
               ) -> tuple[np.ndarray, AccumulatorState]:
        g = grad + self.weight_decay * x
        sum_sq = state.sum_sq + g**2
        x = x - self.rate(state.step) * g / (np.sqrt(sum_sq) + self.eps)
        return x, AccumulatorState(state.step + 1, sum_sq)


@dataclass(frozen=True)
class RMSProp(_Optimizer):
    """RMSProp (``torch.optim.RMSprop``): divide by a running root mean square of the gradient::

        g      = grad + weight_decay * x
        sq_avg = alpha * sq_avg + (1 - alpha) * g**2
        buf    = momentum * buf + g / (sqrt(sq_avg) + eps)
        x      = x - lr_t * buf
    """

    lr: Rate = 0.01
    schedule: Callable[[int], float] | None = None
    alpha: float = 0.99
    eps: float = 1e-8
    momentum: float = 0.0
    weight_decay: float = 0.0
    name: ClassVar[str] = "rmsprop"

    def __post_init__(self) -> None:
        self._check_common()
        check_range("alpha", self.alpha, 0.0, 1.0, high_open=True)
        check_nonnegative("eps", self.eps)
        check_range("momentum", self.momentum, 0.0, 1.0, high_open=True)
        check_nonnegative("weight_decay", self.weight_decay)

    def init(self, x: np.ndarray) -> RMSPropState:
        zeros = np.zeros_like(x, dtype=float)
        return RMSPropState(step=0, sq_avg=zeros, buf=zeros)

    def update(self, x: np.ndarray, grad: np.ndarray, state: RMSPropState
               ) -> tuple[np.ndarray, RMSPropState]:
        g = grad + self.weight_decay * x
        sq_avg = self.alpha * state.sq_avg + (1 - self.alpha) * g**2
        buf = self.momentum * state.buf + g / (np.sqrt(sq_avg) + self.eps)
        x = x - self.rate(state.step) * buf
        return x, RMSPropState(state.step + 1, sq_avg, buf)


@dataclass(frozen=True)
class Adam(_Optimizer):
    """Adam (``torch.optim.Adam``), with L2 weight decay added to the gradient::

        g     = grad + weight_decay * x
        m     = beta1 * m + (1 - beta1) * g
        v     = beta2 * v + (1 - beta2) * g**2
        m_hat = m / (1 - beta1**t),  v_hat = v / (1 - beta2**t)     (t = step + 1)
        x     = x - lr_t * m_hat / (sqrt(v_hat) + eps)
    """

    lr: Rate = 1e-3
    schedule: Callable[[int], float] | None = None
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0
    name: ClassVar[str] = "adam"
    decoupled: ClassVar[bool] = False

    def __post_init__(self) -> None:
        self._check_common()
        check_range("beta1", self.beta1, 0.0, 1.0, high_open=True)
        check_range("beta2", self.beta2, 0.0, 1.0, high_open=True)
        check_nonnegative("eps", self.eps)
        check_nonnegative("weight_decay", self.weight_decay)

    def init(self, x: np.ndarray) -> AdamState:
        zeros = np.zeros_like(x, dtype=float)
        return AdamState(step=0, m=zeros, v=zeros)

    def update(self, x: np.ndarray, grad: np.ndarray, state: AdamState
               ) -> tuple[np.ndarray, AdamState]:
        lr = self.rate(state.step)
        if self.decoupled:
            x, g = x * (1 - lr * self.weight_decay), grad
        else:
            g = grad + self.weight_decay * x
        t = state.step + 1
        m = self.beta1 * state.m + (1 - self.beta1) * g
        v = self.beta2 * state.v + (1 - self.beta2) * g**2
        m_hat = m / (1 - self.beta1**t)
        v_hat = v / (1 - self.beta2**t)
        x = x - lr * m_hat / (np.sqrt(v_hat) + self.eps)
        return x, AdamState(t, m, v)


@dataclass(frozen=True)
class AdamW(Adam):
    """AdamW (``torch.optim.AdamW``): Adam with decoupled weight decay, shrinking ``x`` directly::

        x = x * (1 - lr_t * weight_decay)
        then the Adam step with the raw gradient (no decay added to it)
    """

    weight_decay: float = 0.01
    name: ClassVar[str] = "adamw"
    decoupled: ClassVar[bool] = True


OPTIMIZERS: dict[str, type[_Optimizer]] = {
    cls.name: cls for cls in (GD, HeavyBall, Nesterov, AdaGrad, RMSProp, Adam, AdamW)
}


def names() -> list[str]:
    """The optimizer names :func:`make` accepts."""
    return list(OPTIMIZERS)


def make(name: str, lr: Rate, **hyperparameters: Any) -> _Optimizer:
    """The optimizer called ``name`` with rate ``lr`` and its other hyperparameters.

    >>> make("heavy-ball", 0.1, momentum=0.5)
    HeavyBall(lr=0.1, schedule=None, momentum=0.5, weight_decay=0.0)
    """
    check_choice("optimizer", name, OPTIMIZERS)
    cls = OPTIMIZERS[name]
    # dataclasses.fields, not __dataclass_fields__: that one also lists the ClassVars
    # (``name``, AdamW's ``decoupled``), which are no hyperparameters
    accepted = {f.name for f in dataclasses.fields(cls) if f.name != "lr"}  # type: ignore[arg-type]
    unknown = sorted(set(hyperparameters) - accepted)
    if unknown:
        raise ValueError(
            f"`{unknown[0]}` is not a hyperparameter of {name!r} (it takes "
            f"{', '.join(sorted(accepted))}), but got {unknown[0]}={hyperparameters[unknown[0]]!r}"
        )
    return cls(lr=lr, **hyperparameters)


__all__ = [
    "GD", "HeavyBall", "Nesterov", "AdaGrad", "RMSProp", "Adam", "AdamW",
    "OPTIMIZERS", "make", "names",
]
