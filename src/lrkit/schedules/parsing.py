"""Reading schedules back from text and from dicts, safely (never ``eval``).

``parse(str(s)) == s`` and ``from_dict(s.to_dict()) == s`` for every schedule ``s``.
The text grammar is a Python call expression restricted to lrkit's factories and literal
arguments: numbers (with an optional sign), strings, ``True``/``False``/``None``, lists or
tuples of those, and nested factory calls. Anything else is a ``ValueError``.
"""

from __future__ import annotations

import ast
import inspect
import os
import sys
import warnings
from typing import Any

import numpy as np

from lrkit.errors import LrkitWarning
from lrkit.schedules.base import Schedule
from lrkit.schedules.registry import FACTORIES

__all__ = ["as_schedule", "parse", "from_dict"]

_MAX_TEXT = 10_000
_MAX_DEPTH = 32
_MAX_INT = 2**63
_EXAMPLE = "warmup(100, cosine(10000, final=0.1))"


class _Malformed(Exception):
    """Raised inside the walker; turned into one ValueError carrying the whole text."""


def parse(text: str) -> Schedule:
    """The schedule that ``text`` spells, e.g. ``"warmup(100, cosine(10000, final=0.1))"``.

    Names are the factories of :mod:`lrkit.schedules` (see ``lrkit schedule list``).
    Raises ``ValueError`` naming the problem for unknown names, malformed text and invalid
    arguments; nothing is ever evaluated as Python.

    >>> s = parse("warmup(100, cosine(10000, final=0.1))")
    >>> s(100), str(s)
    (1.0, 'warmup(100, cosine(10000, final=0.1))')
    >>> parse("cosine(-5)")
    Traceback (most recent call last):
    ...
    ValueError: `text` must spell a valid schedule, but got text='cosine(-5)': `total_steps` must be a positive integer, but got total_steps=-5
    """
    if not isinstance(text, str):
        raise TypeError(f"`text` must be a string, but got text={text!r}")
    if len(text) > _MAX_TEXT:
        raise ValueError(
            f"`text` must be at most {_MAX_TEXT} characters, but got text of length {len(text)}"
        )
    try:
        with warnings.catch_warnings():
            # e.g. "1e" is a SyntaxWarning before it is a SyntaxError; the error is ours to raise
            warnings.simplefilter("ignore", SyntaxWarning)
            tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        reason = getattr(exc, "msg", None) or type(exc).__name__
        raise ValueError(
            f"`text` must be a schedule expression such as {_EXAMPLE!r}, but got text={text!r} "
            f"({reason})"
        ) from None
    try:
        return _build(tree.body, 0)
    except _Malformed as exc:
        raise ValueError(
            f"`text` must spell a valid schedule, but got text={text!r}: {exc}"
        ) from None


def _build(node: ast.AST, depth: int) -> Schedule:
    if depth > _MAX_DEPTH:
        raise _Malformed(f"schedules nest at most {_MAX_DEPTH} deep")
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        raise _Malformed(f"expected a call such as {_EXAMPLE!r}, found {_describe(node)}")
    name = node.func.id
    factory = FACTORIES.get(name)
    if factory is None:
        raise _Malformed(f"unknown schedule {name!r}; known: {', '.join(sorted(FACTORIES))}")
    args = [_literal(arg, depth) for arg in node.args]
    kwargs: dict[str, Any] = {}
    for keyword in node.keywords:
        if keyword.arg is None:
            raise _Malformed("'**' arguments are not allowed")
        if keyword.arg in kwargs:
            raise _Malformed(f"argument {keyword.arg!r} given twice")
        kwargs[keyword.arg] = _literal(keyword.value, depth)
    # inside another call, the error says which inner call it is: join(cosine(10), cosine(-5))
    where = f"in {_describe(node)}: " if depth > 0 else ""
    return _call(name, factory, args, kwargs, where)


def _call(name: str, factory: Any, args: list[Any], kwargs: dict[str, Any],
          where: str) -> Schedule:
    try:
        inspect.signature(factory).bind(*args, **kwargs)
    except TypeError as exc:
        raise _Malformed(f"{where}{name}{inspect.signature(factory)}: {exc}") from None
    try:
        return factory(*args, **kwargs)
    except (TypeError, ValueError, OverflowError) as exc:
        raise _Malformed(f"{where}{exc}") from None


def _literal(node: ast.AST, depth: int) -> Any:
    if isinstance(node, ast.Call):
        return _build(node, depth + 1)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool)) or (
        isinstance(node, ast.Constant) and node.value is None
    ):
        return _number_in_range(node.value)
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, (ast.USub, ast.UAdd))
        and isinstance(node.operand, ast.Constant)
        and isinstance(node.operand.value, (int, float))
        and not isinstance(node.operand.value, bool)
    ):
        value = _number_in_range(node.operand.value)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, (ast.List, ast.Tuple)):
        if depth > _MAX_DEPTH:
            raise _Malformed(f"lists nest at most {_MAX_DEPTH} deep")
        return [_literal(element, depth + 1) for element in node.elts]
    raise _Malformed(f"arguments must be numbers, strings, lists or schedules, found {_describe(node)}")


def _number_in_range(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _MAX_INT:
        raise _Malformed(f"integer {value} is too large")
    return value


def _describe(node: ast.AST) -> str:
    try:
        return repr(ast.unparse(node))
    except Exception:  # noqa: BLE001 - only used to word an error message
        return type(node).__name__


def as_schedule(value: Any, *, default: Any = None) -> Any:
    """A shape from what a user may pass for one: a schedule or any callable
    ``step -> multiplier`` is itself, text goes through :func:`parse`, and ``None`` is
    ``default`` where the caller has one.

    >>> as_schedule("cosine(100)")(50)
    0.5
    """
    if value is None and default is not None:
        return default
    if isinstance(value, str):
        return parse(value)
    if isinstance(value, Schedule):
        return value
    if callable(value):
        return CheckedShape(value)
    allowed = "None, " if default is not None else ""
    raise TypeError(
        f"`schedule` must be {allowed}an lrkit schedule, its text or a callable "
        f"step -> multiplier, but got schedule={value!r}"
    )


class CheckedShape:
    """A user's callable ``step -> multiplier``, checked on every call: an lrkit schedule
    is finite and >= 0 by construction, a plain function may return anything, and a
    negative or nan multiplier would train with a negative or nan rate without a word.

    >>> CheckedShape(lambda t: 0.5)(3)
    0.5
    """

    def __init__(self, function: Any) -> None:
        self.function = function

    def __call__(self, step: Any) -> Any:
        value = self.function(step)
        if isinstance(value, (str, bytes, bool)):
            raise TypeError(f"`schedule` must return a number, but returned {value!r} "
                            f"at step {step!r}")
        try:  # a float, a numpy number or 0-d array, a torch scalar, or an array of them
            numbers = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"`schedule` must return a number, but returned {value!r} "
                            f"at step {step!r}") from None
        if not (np.all(np.isfinite(numbers)) and np.all(numbers >= 0)):
            raise ValueError(f"`schedule` must return a finite multiplier >= 0, but "
                             f"returned {value!r} at step {step!r}")
        return value

    def __repr__(self) -> str:
        return repr(self.function)


class ScheduleEndsEarlyWarning(LrkitWarning):
    """A schedule stops changing long before the run it shapes ends."""


def warn_if_ends_early(schedule: Any, steps: int) -> None:
    """Warn (:class:`ScheduleEndsEarlyWarning`) when ``schedule`` stops changing before a run
    of ``steps`` steps ends and that matters: its final multiplier is 0 (the steps after
    it do not train) or it is over by half-way (half the run or more at its final value;
    likely a horizon typed for another run length). Schedules without a known
    ``horizon`` (a plain callable, a periodic schedule) are never warned about.

    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_if_ends_early(parse("cosine(100)"), 1000)
    >>> print(caught[0].message)
    the schedule cosine(100) stops changing at step 100 of 1000: the last 900 steps run at its final multiplier 0, so they do not train
    """
    horizon = getattr(schedule, "horizon", None)
    if hasattr(schedule, "horizon") and _zero_throughout(schedule, steps):
        warnings.warn(f"the schedule {schedule!r} is 0 throughout the run (steps 0 to "
                      f"{steps - 1} of {steps}), so nothing trains", ScheduleEndsEarlyWarning,
                      stacklevel=_first_frame_outside_lrkit())
        return
    if not isinstance(horizon, int) or not 0 < horizon < steps:
        return
    final = float(schedule(horizon))
    if final != 0.0 and horizon > steps // 2:
        return
    if final != 0.0:
        # a ramp that then holds its peak (warmup into a constant) is a shape, not a slip
        probes = np.unique(np.linspace(0, horizon, 1001).astype(np.int64))
        if final >= float(np.max(np.asarray(schedule(probes), dtype=float))):
            return
    consequence = "so they do not train" if final == 0.0 else "is that the run you meant?"
    warnings.warn(
        f"the schedule {schedule!r} stops changing at step {horizon} of {steps}: the last "
        f"{steps - horizon} steps run at its final multiplier {final:g}, {consequence}",
        ScheduleEndsEarlyWarning,
        stacklevel=_first_frame_outside_lrkit(),
    )


def _zero_throughout(schedule: Any, steps: int) -> bool:
    """Whether ``schedule`` is 0 at every step of a ``steps``-step run (all of them for runs
    up to 1001 steps, else 1001 evenly spaced ones)."""
    probes = np.unique(np.linspace(0, max(0, steps - 1), min(steps, 1001)).astype(np.int64))
    return not np.any(np.asarray(schedule(probes), dtype=float))


def _first_frame_outside_lrkit() -> int:
    """The ``stacklevel`` for a warning raised by this module's caller that points at the
    user's code, past lrkit's own frames (``resolve_schedule``, ``grid_search``, ...)."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep

    def in_lrkit(filename: str) -> bool:  # "<stdin>", "<string>": the user's, never lrkit's
        return not filename.startswith("<") and os.path.abspath(filename).startswith(package)

    frame = sys._getframe(1)  # the function that calls warnings.warn: stacklevel 1
    level = 1
    while frame is not None and in_lrkit(frame.f_code.co_filename):
        frame = frame.f_back
        level += 1
    return level


def from_dict(data: dict[str, Any]) -> Schedule:
    """The schedule described by ``data``, the form :meth:`Schedule.to_dict` returns.

    >>> from lrkit.schedules import cosine, warmup
    >>> s = warmup(10, cosine(100))
    >>> from_dict(s.to_dict()) == s
    True
    """
    if not isinstance(data, dict) or "name" not in data:
        raise TypeError(
            f"`data` must be a dict with keys 'name' and 'args', but got data={data!r}"
        )
    extra = set(data) - {"name", "args"}
    if extra:
        raise ValueError(
            f"`data` must only have keys 'name' and 'args', but got data={data!r} "
            f"(extra: {sorted(extra)})"
        )
    name = data["name"]
    factory = FACTORIES.get(name) if isinstance(name, str) else None
    if factory is None:
        raise ValueError(
            f"`name` must be one of {', '.join(sorted(FACTORIES))}, but got name={name!r}"
        )
    args = data.get("args", {})
    if not isinstance(args, dict):
        raise TypeError(f"`args` must be a dict, but got args={args!r}")
    kwargs = {key: _from_plain(value) for key, value in args.items()}
    try:
        inspect.signature(factory).bind(**kwargs)
    except TypeError as exc:
        raise ValueError(f"`args` must fit {name}{inspect.signature(factory)}: {exc}") from None
    return factory(**kwargs)


def _from_plain(value: Any) -> Any:
    if isinstance(value, dict):
        return from_dict(value)
    if isinstance(value, list):
        return [_from_plain(v) for v in value]
    return value
