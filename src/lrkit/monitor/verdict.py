"""What the monitor says about one step: a status, the evidence behind it and the factor
by which it recommends multiplying the rate."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

OK = "ok"
DIVERGED = "diverged"
TOO_HIGH = "too_high"
TOO_LOW = "too_low"
PLATEAU = "plateau"
STATUSES = (OK, DIVERGED, TOO_HIGH, TOO_LOW, PLATEAU)


@dataclass(frozen=True, slots=True)
class Evidence:
    """One check that fired: ``statistic`` crossed ``threshold`` over the last ``window`` steps.

    ``check`` names the test (``"non_finite_loss"``, ``"blow_up"``, ``"loss_rising"``,
    ``"spikes"``, ``"grad_growth"``, ``"oscillation"``, ``"slow_steady_progress"``,
    ``"flat"``, ...); ``detail`` says it in words.
    """

    check: str
    statistic: float
    threshold: float
    window: int
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "statistic": self.statistic,
            "threshold": self.threshold,
            "window": self.window,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    """The monitor's verdict at ``step``.

    ``status`` is one of ``ok``, ``diverged``, ``too_high``, ``too_low``, ``plateau``;
    ``factor`` is the recommended multiplier for the rate (1.0 when ``ok``); ``evidence``
    holds the checks that fired, strongest first.

    >>> v = Verdict("too_low", 120, 3.0, (Evidence("slow_steady_progress", 0.9, 0.5, 60),))
    >>> v.cause, v.ok
    ('slow_steady_progress', False)
    """

    status: str
    step: int
    factor: float = 1.0
    evidence: tuple[Evidence, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def cause(self) -> str:
        """The name of the strongest check behind the verdict (``"ok"`` when none fired)."""
        return self.evidence[0].check if self.evidence else self.status

    def __str__(self) -> str:
        if not self.evidence:
            return f"step {self.step}: {self.status}"
        first = self.evidence[0]
        text = first.detail or (
            f"{first.check}: {_num(first.statistic)} vs threshold {_num(first.threshold)} "
            f"over {first.window} steps"
        )
        return f"step {self.step}: {self.status} ({text}); recommended rate factor x{self.factor:g}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "step": self.step,
            "factor": self.factor,
            "cause": self.cause,
            "evidence": [e.to_dict() for e in self.evidence],
        }


def _num(value: float) -> str:
    return f"{value:.4g}" if math.isfinite(value) else str(value)
