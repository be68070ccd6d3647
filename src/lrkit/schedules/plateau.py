"""Reduce-on-plateau as a multiplier that composes with a time schedule.

``ReduceOnPlateau`` watches a metric (reported e.g. once per evaluation) and keeps a
``scale`` that drops by ``factor`` after ``patience`` reports without improvement. It never
replaces the time schedule: the rate is ``base_lr * plateau.scale * schedule(step)``, so
warmup + cosine + plateau compose (``ScheduleLR(opt, s, plateau=ReduceOnPlateau())``).

Improvement is measured so that it also holds for negative metrics (log-likelihoods) and
for ``mode="max"``: with ``threshold_mode="rel"`` a new value improves on ``best`` when it
beats ``best`` by ``threshold * |best|`` in the right direction. (PyTorch's
``ReduceLROnPlateau`` compares with ``best * (1 - threshold)``, which for a negative best in
``mode="min"`` accepts values slightly *worse* than best as improvements.)
Non-finite metrics (NaN, inf) never count as an improvement.
"""

from __future__ import annotations

import math
from typing import Any

from lrkit._validation import check_choice, check_int, check_nonnegative, check_range

__all__ = ["ReduceOnPlateau"]


class ReduceOnPlateau:
    """A metric-driven multiplier: ``scale`` drops by ``factor`` when the metric stalls.

    Args:
        factor: multiply ``scale`` by this on a plateau, in (0, 1).
        patience: reports without improvement tolerated; the next one reduces.
        threshold: the least change that counts as an improvement (see ``threshold_mode``).
        threshold_mode: "rel" (``threshold * |best|``) or "abs" (``threshold``).
        mode: "min" (lower is better, e.g. a loss) or "max" (e.g. an accuracy).
        cooldown: reports to ignore after a reduction.
        min_scale: ``scale`` never goes below this.

    Same decisions as ``torch.optim.lr_scheduler.ReduceLROnPlateau`` with the same arguments
    (``min_lr = min_scale * base_lr``, ``eps=0``) whenever the metric stays positive; torch's
    ``eps`` (skip reductions smaller than 1e-8 in absolute rate) has no counterpart here.

    >>> plateau = ReduceOnPlateau(factor=0.5, patience=1)
    >>> [plateau.report(loss) for loss in [-1.0, -2.0, -1.9999, -1.99995]]
    [1.0, 1.0, 1.0, 0.5]
    """

    def __init__(
        self,
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        mode: str = "min",
        cooldown: int = 0,
        min_scale: float = 0.0,
    ) -> None:
        self.factor = check_range("factor", factor, 0.0, 1.0, low_open=True, high_open=True)
        self.patience = check_int("patience", patience, minimum=0)
        self.threshold = check_nonnegative("threshold", threshold)
        self.threshold_mode = check_choice("threshold_mode", threshold_mode, ("rel", "abs"))
        self.mode = check_choice("mode", mode, ("min", "max"))
        self.cooldown = check_int("cooldown", cooldown, minimum=0)
        self.min_scale = check_range("min_scale", min_scale, 0.0, 1.0)
        self.scale = 1.0
        self.best: float | None = None
        self.num_bad = 0
        self.cooldown_left = 0
        self.reductions = 0

    def __repr__(self) -> str:
        return (
            f"ReduceOnPlateau(factor={self.factor!r}, patience={self.patience!r}, "
            f"threshold={self.threshold!r}, threshold_mode={self.threshold_mode!r}, "
            f"mode={self.mode!r}, cooldown={self.cooldown!r}, min_scale={self.min_scale!r})"
        )

    def improves(self, metric: float) -> bool:
        """Whether ``metric`` counts as an improvement on the best so far."""
        if not math.isfinite(metric):
            return False
        if self.best is None:
            return True
        margin = self.threshold * abs(self.best) if self.threshold_mode == "rel" else self.threshold
        if self.mode == "min":
            return metric < self.best - margin
        return metric > self.best + margin

    def report(self, metric: float) -> float:
        """Record one value of the metric; returns the (possibly reduced) ``scale``."""
        if isinstance(metric, bool):
            raise TypeError(f"`metric` must be a real number, but got metric={metric!r}")
        try:
            value = float(metric)
        except (TypeError, ValueError):
            raise TypeError(f"`metric` must be a real number, but got metric={metric!r}") from None
        if self.improves(value):
            self.best = value
            self.num_bad = 0
        else:
            self.num_bad += 1
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.num_bad = 0
        if self.num_bad > self.patience:
            new_scale = max(self.scale * self.factor, self.min_scale)
            if new_scale < self.scale:
                self.scale = new_scale
                self.reductions += 1
            self.cooldown_left = self.cooldown
            self.num_bad = 0
        return self.scale

    def state_dict(self) -> dict[str, Any]:
        """Everything that changes while training (the settings come from the constructor)."""
        return {
            "scale": self.scale,
            "best": self.best,
            "num_bad": self.num_bad,
            "cooldown_left": self.cooldown_left,
            "reductions": self.reductions,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        missing = {"scale", "best", "num_bad", "cooldown_left"} - set(state)
        if missing:
            raise ValueError(
                f"`state` must have the keys of ReduceOnPlateau.state_dict(), but got "
                f"state={state!r} (missing {sorted(missing)})"
            )
        self.scale = check_range("scale", state["scale"], 0.0, 1.0)
        self.best = None if state["best"] is None else float(state["best"])
        self.num_bad = check_int("num_bad", state["num_bad"], minimum=0)
        self.cooldown_left = check_int("cooldown_left", state["cooldown_left"], minimum=0)
        self.reductions = check_int("reductions", state.get("reductions", 0), minimum=0)
