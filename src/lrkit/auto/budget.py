"""Counting the cost of a hands-off run, where every call of the loss counts as one step.

The budget is ``floor(budget * steps)`` calls of the loss function: the final run's own
``steps`` training calls plus everything spent searching (range test, racing, and every
evaluation pass). :class:`Meter` refuses any charge that would overspend, so a plan that
miscounts fails loudly instead of silently costing more than promised.

>>> meter = Meter(limit=10)
>>> meter.charge(4, "edge"); meter.spent, meter.left
(4, 6)
>>> meter.can_afford(7)
False
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lrkit._validation import check_int, check_real

#: lrkit auto's default budget, in runs: the target cost of the hands-off mode
DEFAULT_BUDGET = 1.5


def check_budget(name: str, value: object) -> float:
    """A budget in runs: a real number of at least 1 (the final run alone costs one run).

    >>> check_budget("budget", 2)
    2.0
    """
    value = check_real(name, value)
    if value < 1.0:
        raise ValueError(f"`{name}` must be >= 1 (the final run alone costs one run), "
                         f"but got {name}={value!r}")
    return value


class BudgetExceeded(RuntimeError):
    """A charge would take the meter past its limit (a bug in the plan, never expected)."""


@dataclass
class Meter:
    """Loss-function calls spent so far, per phase, against a hard limit."""

    limit: int
    spent: int = 0
    by_phase: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_int("limit", self.limit, minimum=1)

    @property
    def left(self) -> int:
        return self.limit - self.spent

    def can_afford(self, calls: int) -> bool:
        return calls <= self.left

    def charge(self, calls: int, phase: str) -> None:
        """Record ``calls`` loss-function calls spent in ``phase``; raise if over the limit."""
        if calls < 0:
            raise ValueError(f"`calls` must be >= 0, but got calls={calls!r}")
        if calls > self.left:
            raise BudgetExceeded(
                f"charging {calls} calls in phase {phase!r} would exceed the budget "
                f"({self.spent} of {self.limit} spent)"
            )
        self.spent += calls
        self.by_phase[phase] = self.by_phase.get(phase, 0) + calls
