"""Argument checks shared by every lrkit module.

Every message follows one template, naming the argument and the value it got::

    `total_steps` must be a positive integer, but got total_steps=-3
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any


def _fail(name: str, requirement: str, value: Any, exc: type[Exception] = ValueError) -> None:
    raise exc(f"`{name}` must be {requirement}, but got {name}={value!r}")


def check_real(name: str, value: Any) -> float:
    """Return ``value`` as a finite float, or raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        _fail(name, "a real number", value, TypeError)
    value = float(value)
    if not math.isfinite(value):
        _fail(name, "finite", value)
    return value


def check_positive(name: str, value: Any) -> float:
    """A finite float > 0."""
    value = check_real(name, value)
    if value <= 0:
        _fail(name, "> 0", value)
    return value


def check_nonnegative(name: str, value: Any) -> float:
    """A finite float >= 0."""
    value = check_real(name, value)
    if value < 0:
        _fail(name, ">= 0", value)
    return value


def check_range(name: str, value: Any, low: float, high: float, *, low_open: bool = False,
                high_open: bool = False) -> float:
    """A finite float in the interval [low, high] (ends open when asked)."""
    value = check_real(name, value)
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if too_low or too_high:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        _fail(name, f"in {left}{low}, {high}{right}", value)
    return value


def check_number(name: str, value: Any) -> float:
    """``value`` as a float: a number, or a one-element tensor or array (``.item()``); a
    ``TypeError`` naming ``name`` for anything else (None, a string, a bool, a list such as
    ``get_last_lr()``). NaN and inf pass: to the callers they are divergence, not bad input.
    """
    if value is not None and not isinstance(value, (bool, str, bytes)):
        try:
            return float(value.item() if hasattr(value, "item") else value)
        except (TypeError, ValueError, RuntimeError):  # RuntimeError: .item() of a long tensor
            pass
    raise TypeError(f"`{name}` must be a number, but got {name}={value!r}")


#: the largest seed: every generator lrkit seeds (python, numpy modulo 2**32, torch) takes it
MAX_SEED = 2**63 - 1


def check_seed(name: str, value: Any) -> int:
    """A seed: an integer in ``[0, 2**63 - 1]``."""
    value = check_int(name, value, minimum=0)
    if value > MAX_SEED:
        _fail(name, "an integer <= 2**63 - 1", value)
    return value


def check_int(name: str, value: Any, *, minimum: int | None = None) -> int:
    """An integer (not a bool), optionally ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            _fail(name, "an integer", value, TypeError)
    value = int(value)
    if minimum is not None and value < minimum:
        requirement = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        _fail(name, requirement, value)
    return value


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """One of a fixed set of strings."""
    choices = tuple(choices)
    if value not in choices:
        _fail(name, "one of " + ", ".join(repr(c) for c in choices), value)
    return value


def check_callable(name: str, value: Any) -> Any:
    """Anything callable."""
    if not callable(value):
        _fail(name, "callable", value, TypeError)
    return value
