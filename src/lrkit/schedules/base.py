"""The :class:`Schedule` base: an immutable, printable, comparable function of the step.

A schedule maps a step ``t >= 0`` to a multiplier of the base rate::

    lr_group(t) = base_lr_group * schedule(t)

Conventions shared by every schedule in lrkit:

- the value at step ``k`` is the rate used for update ``k`` (step 0 is the first update);
- past its horizon a schedule holds its final value (no wrap-around, no exception);
- ``s(step)`` returns a float for a scalar step and a float64 ndarray for an array of steps;
- ``str(s)`` is the Python call that builds ``s`` and :func:`lrkit.schedules.parse` reads it
  back; ``==`` compares by value; ``s.to_dict()`` is a JSON-ready form.

Each subclass implements the formula twice: ``_scalar`` in plain Python (fast, used by
``ScheduleLR`` on every step) and ``_array`` in numpy (used for tables and plots). The
contract tests check that the two agree on every schedule.
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Iterator
from typing import Any, ClassVar, overload

import numpy as np

from lrkit._validation import check_int

__all__ = ["MAX_STEPS", "Schedule", "check_steps", "format_value"]

# step-valued parameters stop here: every step up to 2**53 is an exact float64, so the
# numpy and the plain-Python paths agree and text round-trips exactly
MAX_STEPS = 2**53


def format_value(value: Any) -> str:
    """The literal that :func:`lrkit.schedules.parse` reads back as an equal value.

    Integral floats print without ``.0`` (``1.0`` -> ``1``); factories convert them back.

    >>> format_value(0.1), format_value(1.0), format_value([100, 200]), format_value("cosine")
    ('0.1', '1', '[100, 200]', "'cosine'")
    """
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return repr(value) if isinstance(value, str) else str(value)


def check_steps(name: str, value: Any, *, minimum: int) -> int:
    """An integer number of steps in [minimum, 2**53], or raise naming ``name``."""
    value = check_int(name, value, minimum=minimum)
    if value > MAX_STEPS:
        raise ValueError(f"`{name}` must be <= 2**53, but got {name}={value!r}")
    return value


def _to_plain(value: Any) -> Any:
    if isinstance(value, Schedule):
        return value.to_dict()
    if isinstance(value, (list, tuple)):
        return [_to_plain(v) for v in value]
    return value


class Schedule:
    """Base class of every lrkit schedule: ``s(step) -> multiplier``.

    Subclasses set ``name`` (the factory's name), ``positional`` (parameters printed by
    position), ``defaults`` (keyword parameters and their defaults; printed only when they
    differ) and implement ``_scalar(t)`` and ``_array(t)``. Parameters are stored once, at
    construction, after the factory has validated them; a schedule never changes.

    >>> from lrkit.schedules import cosine, warmup
    >>> s = warmup(100, cosine(10000, final=0.1))
    >>> str(s)
    'warmup(100, cosine(10000, final=0.1))'
    >>> s(0) > 0 and s(100) == 1.0
    True
    """

    __slots__ = ("_params", "_hash")

    name: ClassVar[str] = "schedule"
    positional: ClassVar[tuple[str, ...]] = ()
    defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, **params: Any) -> None:
        object.__setattr__(self, "_params", params)
        object.__setattr__(self, "_hash", None)

    # -- evaluation -------------------------------------------------------------------
    @overload
    def __call__(self, step: numbers.Real) -> float: ...

    @overload
    def __call__(self, step: np.ndarray | list[Any] | tuple[Any, ...]) -> np.ndarray: ...

    def __call__(self, step: Any) -> Any:
        """The multiplier at ``step`` (a float), or at every step of an array (an ndarray).

        Steps must be finite and >= 0; fractional steps are allowed (plots use them).
        """
        if isinstance(step, numbers.Real) and not isinstance(step, bool):
            if isinstance(step, numbers.Integral):
                t: int | float = int(step)
                if t < 0:
                    raise ValueError(f"`step` must be >= 0, but got step={step!r}")
                if t > sys.float_info.max:
                    # every formula works in float64; past its range no step is meaningful
                    raise ValueError(f"`step` must be finite as a float, but got an integer "
                                     f"of {len(str(t))} digits")
            else:
                t = float(step)
                if not (t >= 0.0 and math.isfinite(t)):
                    raise ValueError(f"`step` must be finite and >= 0, but got step={step!r}")
            return float(self._scalar(t))
        if isinstance(step, (np.ndarray, list, tuple)):
            try:
                steps = np.asarray(step, dtype=np.float64)
            except OverflowError as exc:
                raise ValueError("`step` must be finite as floats, but the array holds an "
                                 "integer beyond float64's range") from exc
            except (TypeError, ValueError) as exc:
                raise TypeError(f"`step` must be numbers, but got step={step!r}") from exc
            if steps.size and not (np.all(np.isfinite(steps)) and np.all(steps >= 0.0)):
                bad = steps[~(np.isfinite(steps) & (steps >= 0.0))][0]
                raise ValueError(
                    f"`step` must be finite and >= 0 everywhere, but got step={float(bad)!r} "
                    "in the array"
                )
            # _array indexes its input: a 0-d array goes through as one step
            values = self._array(np.atleast_1d(steps))
            return np.asarray(values, dtype=np.float64).reshape(steps.shape)
        raise TypeError(f"`step` must be an int, a float or an array of steps, but got step={step!r}")

    def _scalar(self, t: Any) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def _array(self, t: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def horizon(self) -> int | None:
        """The first step from which the value never changes again, or None (e.g. periodic)."""
        return None

    # -- identity -----------------------------------------------------------------------
    @property
    def params(self) -> dict[str, Any]:
        """The parameters, by name, as the factory stored them."""
        return dict(self._params)

    def __getattr__(self, item: str) -> Any:
        params = object.__getattribute__(self, "_params")
        if item in params:
            return params[item]
        raise AttributeError(f"{type(self).__name__!s} has no attribute {item!r}")

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError("schedules are immutable; build a new one instead")

    def _printed(self) -> Iterator[str]:
        for key in self.positional:
            yield format_value(self._params[key])
        for key, default in self.defaults.items():
            value = self._params[key]
            if not _same(value, self._default(key, default)):
                yield f"{key}={format_value(value)}"

    def _default(self, key: str, default: Any) -> Any:
        """The default of ``key`` for this instance (some depend on other parameters)."""
        return default

    def __str__(self) -> str:
        return f"{self.name}({', '.join(self._printed())})"

    __repr__ = __str__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Schedule):
            return NotImplemented
        return type(self) is type(other) and self._params == other._params

    def __hash__(self) -> int:
        if self._hash is None:
            frozen = tuple(
                (k, tuple(v) if isinstance(v, list) else v) for k, v in sorted(self._params.items())
            )
            object.__setattr__(self, "_hash", hash((self.name, frozen)))
        return self._hash  # type: ignore[return-value]

    def __reduce__(self) -> tuple[Any, ...]:
        # pickling (e.g. inside a torch checkpoint) goes through the validated factory
        from lrkit.schedules.parsing import parse

        return (parse, (str(self),))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; :func:`lrkit.schedules.from_dict` rebuilds the schedule.

        >>> from lrkit.schedules import cosine
        >>> cosine(1000, final=0.1).to_dict()
        {'name': 'cosine', 'args': {'total_steps': 1000, 'final': 0.1}}
        """
        return {"name": self.name, "args": {k: _to_plain(v) for k, v in self._params.items()}}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b)
