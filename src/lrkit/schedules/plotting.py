"""Plot a schedule (matplotlib is imported only when this is called)."""

from __future__ import annotations

from typing import Any

import numpy as np

from lrkit._optional import pyplot
from lrkit._validation import check_int, check_positive
from lrkit.schedules.base import Schedule

__all__ = ["plot_schedule"]


def plot_schedule(
    schedule: Schedule,
    total_steps: int,
    *,
    base_lr: float | None = None,
    ax: Any = None,
    label: str | None = None,
    log: bool = False,
    max_points: int | None = None,
) -> Any:
    """Draw ``schedule`` over steps ``0 .. total_steps - 1`` and return the matplotlib Axes.

    The y axis is the multiplier, or the rate ``base_lr * schedule(step)`` when ``base_lr``
    is given. A new figure is made unless ``ax`` is passed; nothing is shown or saved.
    With ``max_points``, a longer run is drawn at that many evenly spaced steps (a schedule
    of 10**11 steps is not evaluated at every one).

    >>> from lrkit.schedules import cosine, warmup
    >>> ax = plot_schedule(warmup(10, cosine(90)), 100)
    >>> ax.get_xlabel()
    'step'
    """
    if not isinstance(schedule, Schedule):
        raise TypeError(f"`schedule` must be an lrkit schedule, but got schedule={schedule!r}")
    total_steps = check_int("total_steps", total_steps, minimum=1)
    plt = pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(6.0, 3.2), layout="constrained")
    if max_points is not None and total_steps > check_int("max_points", max_points, minimum=2):
        steps = np.round(np.linspace(0, total_steps - 1, max_points))
    else:
        steps = np.arange(total_steps, dtype=np.float64)
    values = schedule(steps)
    if base_lr is not None:
        values = check_positive("base_lr", base_lr) * values
    ax.plot(steps, values, label=label if label is not None else str(schedule), lw=1.6)
    ax.set_xlabel("step")
    ax.set_ylabel("lr" if base_lr is not None else "multiplier")
    if log:
        ax.set_yscale("log")
    else:
        ax.set_ylim(bottom=0.0)
    ax.grid(True, alpha=0.3)
    return ax
