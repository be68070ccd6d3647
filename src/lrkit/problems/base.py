"""What a training problem is, and the registry every command and benchmark draws from.

A :class:`Problem` bundles everything needed to train and judge one small model: a model
factory, an optimizer factory taking the rate, a ``loss_fn(model, batch)``, seeded
training batches, a held-out evaluation and a step budget. ``lrkit find``, ``tune``,
``auto`` and ``bench`` all take ``--problem NAME`` (a registered name) or
``--problem path/to/file.py:function`` (a user's function returning a Problem).
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lrkit._validation import check_callable, check_int, check_positive


@dataclass(frozen=True)
class Problem:
    """One training problem.

    Attributes:
        name: registry name, e.g. ``"digits-mlp"``.
        description: one line for ``--help`` and tables.
        make_model: ``seed -> torch.nn.Module``; the initialisation depends only on ``seed``.
        make_optimizer: ``(params, lr) -> torch.optim.Optimizer`` for the problem's optimizer.
        loss_fn: ``(model, batch) -> scalar tensor``, the training loss of one batch.
        batches: ``seed -> iterator`` over training batches, endless, with a data order
            that depends only on ``seed``.
        evaluate: ``model -> float``, the held-out loss (eval mode, no gradients).
        steps: the step budget of one full training run.
        default_lr: the optimizer's customary default rate (1e-3 for Adam, 1e-2 for SGD).
        optimizer: the optimizer family's name, for tables ("adam", "sgd", ...).
        tags: free-form labels ("convex", "deep", "sequence", ...).
    """

    name: str
    description: str
    make_model: Callable[[int], Any]
    make_optimizer: Callable[[Iterable[Any], float], Any]
    loss_fn: Callable[[Any, Any], Any]
    batches: Callable[[int], Iterator[Any]]
    evaluate: Callable[[Any], float]
    steps: int
    default_lr: float
    optimizer: str = "adam"
    tags: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"`name` must be a non-empty string, but got name={self.name!r}")
        for attr in ("make_model", "make_optimizer", "loss_fn", "batches", "evaluate"):
            check_callable(attr, getattr(self, attr))
        check_int("steps", self.steps, minimum=1)
        check_positive("default_lr", self.default_lr)

    def held_out_loss(self, model: Any) -> float:
        """``float(self.evaluate(model))``, or a ``TypeError`` that names ``evaluate`` when
        it returns something that is not a number (a tensor of one element is one)."""
        value = self.evaluate(model)
        try:
            return float(value)
        except (TypeError, ValueError):
            raise TypeError(f"`evaluate` of problem {self.name!r} must return a number, but got "
                            f"{value!r}") from None


_REGISTRY: dict[str, Callable[[], Problem]] = {}


def register(name: str) -> Callable[[Callable[[], Problem]], Callable[[], Problem]]:
    """Decorator: register a zero-argument factory returning a :class:`Problem`."""

    def decorator(factory: Callable[[], Problem]) -> Callable[[], Problem]:
        if name in _REGISTRY:
            raise ValueError(f"`name` must be unique, but got name={name!r} twice")
        _REGISTRY[name] = factory
        return factory

    return decorator


def names() -> list[str]:
    """The registered problem names, in registration order.

    >>> names()[:3]
    ['quadratic', 'logistic', 'digits-mlp']
    """
    _load_builtins()
    return list(_REGISTRY)


def get(spec: str) -> Problem:
    """A registered problem by name, or ``path/to/file.py:function`` for a user's own.

    >>> get("no-such-problem")
    Traceback (most recent call last):
    ...
    ValueError: `problem` must be a registered name or path.py:function, but got problem='no-such-problem' ...
    """
    if not isinstance(spec, str):
        raise TypeError(f"`problem` must be a string, but got problem={spec!r}")
    _load_builtins()
    if spec in _REGISTRY:
        problem = _REGISTRY[spec]()
    elif ":" in spec and spec.rsplit(":", 1)[0].endswith(".py"):
        problem = _load_from_file(spec)
    else:
        raise ValueError(
            f"`problem` must be a registered name or path.py:function, but got problem={spec!r} "
            f"(registered: {', '.join(_REGISTRY)})"
        )
    if not isinstance(problem, Problem):
        raise TypeError(
            f"`problem` {spec!r} must produce an lrkit.problems.Problem, but got {type(problem).__name__}"
        )
    return problem


def _load_from_file(spec: str) -> Problem:
    """Import ``path.py`` and call its ``function()``. What goes wrong in the user's file (a
    syntax error, an exception at import or in the call, a ``sys.exit()`` there, a function
    that needs arguments) is a ValueError naming ``problem``, chained to the original
    exception. (A ``SystemExit`` is caught too: let through, it would end ``lrkit find``
    silently, with status 0 after ``sys.exit(0)``, and nothing found.)"""
    path_text, function_name = spec.rsplit(":", 1)
    path = Path(path_text)
    if not path.is_file():
        raise ValueError(f"`problem` file must exist, but got problem={spec!r} ({path} not found)")
    module_name = f"_lrkit_user_problem_{abs(hash(path.resolve()))}"
    module_spec = importlib.util.spec_from_file_location(module_name, path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_name] = module
    try:
        module_spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:
        sys.modules.pop(module_name, None)
        raise ValueError(f"`problem` {spec!r}: importing {path} raised "
                         f"{_describe(exc)}") from exc
    factory = getattr(module, function_name, None)
    if factory is None or not callable(factory):
        raise ValueError(
            f"`problem` must name a function in {path}, but got problem={spec!r} "
            f"({function_name!r} is not a callable there)"
        )
    try:
        inspect.signature(factory).bind()
    except TypeError:
        raise ValueError(
            f"`problem` must name a function that takes no arguments, but got problem={spec!r} "
            f"({function_name}{inspect.signature(factory)})"
        ) from None
    except ValueError:  # no signature to read (a builtin): calling it will tell
        pass
    try:
        return factory()
    except (Exception, SystemExit) as exc:
        raise ValueError(f"`problem` {spec!r} raised {_describe(exc)}") from exc


def _describe(exc: BaseException) -> str:
    """``RuntimeError: boom``, on one line; ``SystemExit`` as ``sys.exit(0)``."""
    if isinstance(exc, SystemExit):
        return f"sys.exit({exc.code!r})"
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _load_builtins() -> None:
    # the built-in problems register themselves on import
    importlib.import_module("lrkit.problems.builtin")
