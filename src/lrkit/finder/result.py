"""The frozen result of a learning-rate range test."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class RangeTestResult:
    """What a range test saw and what it suggests.

    Attributes:
        lrs: the rates tried, one per recorded step (read-only array).
        losses: the raw loss returned at each of those steps.
        smoothed: the bias-corrected moving average of ``losses``.
        stop_reason: ``"end"`` (reached ``end``), ``"diverged"`` (the loss blew up) or
            ``"nonfinite"`` (a NaN or infinite loss, which stops the sweep at once).
        divergence_lr: the stability edge, the rate at which the blow-up started
            (None when the sweep reached ``end`` without diverging).
        divergence_index: index into ``lrs`` of the first point of the blow-up (or None).
        suggestion: lrkit's default pick, None when the curve supports no reliable one.
        suggestions: every rule's pick, rule name -> rate or None; ``"lrkit"`` is
            ``suggestion`` (None beside "no reliable suggestion").
        band: ``(low, high)`` range of plausible rates from the spread of the rules (None
            when there is no suggestion).
        note: why there is no reliable suggestion, or what limits the one given (an empty
            string when nothing does).
    """

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    stop_reason: str
    divergence_lr: float | None
    divergence_index: int | None
    suggestion: float | None
    suggestions: dict[str, float | None]
    band: tuple[float, float] | None
    note: str = ""
    settings: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("lrs", "losses", "smoothed"):
            array = np.array(getattr(self, name), dtype=float)
            array.setflags(write=False)
            object.__setattr__(self, name, array)

    @property
    def reliable(self) -> bool:
        """True when there is a suggestion."""
        return self.suggestion is not None

    @property
    def steps(self) -> int:
        """How many steps the sweep ran."""
        return len(self.lrs)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (non-finite losses as floats; see ``cli._common``)."""
        return {
            "suggestion": self.suggestion,
            "band": list(self.band) if self.band is not None else None,
            "suggestions": dict(self.suggestions),
            "divergence_lr": self.divergence_lr,
            "stop_reason": self.stop_reason,
            "note": self.note,
            "steps": self.steps,
            "lrs": self.lrs.tolist(),
            "losses": self.losses.tolist(),
            "smoothed": self.smoothed.tolist(),
            "settings": dict(self.settings),
        }

    def plot(self, ax: Any = None, *, title: str | None = None) -> Any:
        """Loss against rate (log axis) with the suggestions and the edge; returns the Axes."""
        from lrkit.finder.plot import plot_range_test

        return plot_range_test(self, ax=ax, title=title)

    def __str__(self) -> str:
        lines = []
        if self.suggestion is not None:
            low, high = self.band if self.band is not None else (math.nan, math.nan)
            lines.append(f"suggested lr: {self.suggestion:.3g} (band {low:.3g} .. {high:.3g})")
            if self.note:
                lines.append(f"note: {self.note}")
        else:
            lines.append(f"no reliable suggestion: {self.note}")
        edge = "none" if self.divergence_lr is None else f"{self.divergence_lr:.3g}"
        lines.append(f"divergence edge: {edge} (stopped: {self.stop_reason}, {self.steps} steps)")
        for rule, lr in self.suggestions.items():
            lines.append(f"  {rule:<14} {'-' if lr is None else f'{lr:.3g}'}")
        return "\n".join(lines)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RangeTestResult):
            return NotImplemented
        return (
            np.array_equal(self.lrs, other.lrs)
            and np.array_equal(self.losses, other.losses, equal_nan=True)
            and self.stop_reason == other.stop_reason
            and self.divergence_lr == other.divergence_lr
            and self.suggestions == other.suggestions
        )

    __hash__ = None  # type: ignore[assignment]
