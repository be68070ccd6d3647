"""Hands-off training at a searched rate, framework-agnostic (see :mod:`lrkit.auto.core`).

The torch adapter is :func:`lrkit.torch.autotrain`.
"""

from __future__ import annotations

from typing import Any

from lrkit._validation import check_int
from lrkit.auto.budget import BudgetExceeded, Meter
from lrkit.auto.core import Decision, Outcome, Session, Settings, plan_search, run_auto
from lrkit.auto.edge import Edge, find_edge

__all__ = [
    "BudgetExceeded", "Decision", "Edge", "Meter", "Outcome", "Session", "Settings",
    "default_schedule", "find_edge", "plan_search", "run_auto",
]


def default_schedule(steps: int) -> Any:
    """Linear warmup over the first 5% of ``steps`` (at least one step), then cosine to 0.

    Warmup keeps the first updates, taken while the optimizer's statistics and the
    curvature are still settling, from blowing up at a peak rate near the edge; decaying
    to 0 removes the noise floor at the end, which lets a larger, faster peak rate win.
    """
    from lrkit import schedules

    steps = check_int("steps", steps, minimum=1)
    warmup_steps = max(1, int(round(0.05 * steps)))
    return schedules.warmup(warmup_steps, schedules.cosine(max(1, steps - warmup_steps)))
