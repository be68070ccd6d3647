"""Hands-off training at a searched rate, framework-agnostic (see :mod:`lrkit.auto.core`).

The torch adapter is :func:`lrkit.torch.autotrain`.
"""

from __future__ import annotations

from lrkit.auto.budget import BudgetExceeded, Meter
from lrkit.auto.core import Decision, Outcome, Session, Settings, plan_search, run_auto
from lrkit.auto.edge import Edge, find_edge
from lrkit.problems.train import default_schedule  # the one shape every lrkit run uses

__all__ = [
    "BudgetExceeded", "Decision", "Edge", "Meter", "Outcome", "Session", "Settings",
    "default_schedule", "find_edge", "plan_search", "run_auto",
]

