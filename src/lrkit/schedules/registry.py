"""The schedule factories by name: what :func:`parse` accepts and ``lrkit schedule list`` shows."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import NamedTuple

from lrkit.schedules import compose, decay, periodic, warmup_decay
from lrkit.schedules.base import Schedule

__all__ = ["FACTORIES", "Family", "families"]

FACTORIES: dict[str, Callable[..., Schedule]] = {
    "constant": decay.constant,
    "linear": decay.linear,
    "step": decay.step,
    "multistep": decay.multistep,
    "exponential": decay.exponential,
    "inverse_time": decay.inverse_time,
    "polynomial": decay.polynomial,
    "cosine": decay.cosine,
    "cosine_restarts": periodic.cosine_restarts,
    "cyclic": periodic.cyclic,
    "one_cycle": periodic.one_cycle,
    "inverse_sqrt": warmup_decay.inverse_sqrt,
    "wsd": warmup_decay.wsd,
    "warmup": compose.warmup,
    "join": compose.join,
}


class Family(NamedTuple):
    """One schedule family: its name, call signature and one-line summary."""

    name: str
    signature: str
    summary: str


def families() -> list[Family]:
    """Every schedule family, in the order of the docs.

    >>> families()[0]
    Family(name='constant', signature='constant(value=1.0)', summary='The same multiplier at every step: ``value``.')
    """
    out = []
    for name, factory in FACTORIES.items():
        parameters = inspect.signature(factory).parameters.values()
        signature = ", ".join(
            p.name if p.default is p.empty else f"{p.name}={p.default!r}" for p in parameters
        )
        doc = inspect.getdoc(factory) or ""
        out.append(Family(name, f"{name}({signature})", doc.split("\n\n")[0].replace("\n", " ")))
    return out
