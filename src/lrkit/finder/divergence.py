"""When has a range test diverged? A test on the shape of the curve, not on its sign.

The established test, "the smoothed loss exceeds 5x the best smoothed loss", has three
flaws: it never fires for a negative loss (the best is negative, 5x the best is lower
still), it depends on where zero happens to be (adding a constant to the loss changes
the answer) and, because it waits for a loss several times the best, a stiff direction
that starts to blow up under slowly-moving ones is only noticed when it dominates, a few
doublings of the rate too late.

lrkit measures the rise in units of the curve's own scale. With ``best`` the lowest
smoothed loss so far, ``drop = start_level - best`` how far the curve has come down and
``noise`` a robust estimate of the step-to-step scatter of the raw losses::

    scale  = max(drop, noise_multiple * noise, tiny)
    excess = (loss - best) / scale

The sweep has diverged when ``excess > threshold`` on ``patience`` consecutive steps
(a single noisy batch, or the first batch after a short loader restarts, does not stop
it), or when the loss has grown on every one of the last ``growth_steps`` steps by more
than the noise and already sits ``growth_threshold`` above the best: the signature of an
unstable direction growing geometrically while it is still small. Invariant under adding
a constant to the loss and under multiplying it by a positive factor.

>>> d = DivergenceDetector()
>>> [d.update(x) for x in [5, 4, 3, 2, 1, 0, -1, -1.1, -1, 3, 9]][-1]
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from lrkit._validation import check_int, check_positive, check_range


# a blow-up grows the excess over the best loss by at least this factor per step
GROWTH_FACTOR = 1.5
GROWTH_NOISE = 0.5


@dataclass
class DivergenceDetector:
    """Online divergence test; feed it one raw loss per step with :meth:`update`.

    Attributes:
        threshold: excess (in units of ``scale``) that counts as blown up.
        patience: consecutive steps above ``threshold`` needed.
        beta: smoothing of the reference level (bias-corrected EMA).
        noise_multiple: the scale is never below this many noise units.
        growth_steps: length of a run of consecutive rises that signals geometric growth.
        growth_threshold: excess that run must reach.
        warmup: steps always accepted at the start (the curve has no scale yet).
    """

    threshold: float = 1.0
    patience: int = 2
    beta: float = 0.9
    noise_multiple: float = 4.0
    growth_steps: int = 3
    growth_threshold: float = 0.25
    warmup: int = 5
    window: int = 10
    losses: list[float] = field(default_factory=list, repr=False)
    smoothed: list[float] = field(default_factory=list, repr=False)
    onset: int | None = field(default=None, repr=False)
    _v: float = field(default=0.0, repr=False)
    _w: float = field(default=1.0, repr=False)
    _above: int = field(default=0, repr=False)

    def __post_init__(self) -> None:
        check_positive("threshold", self.threshold)
        check_int("patience", self.patience, minimum=1)
        check_range("beta", self.beta, 0.0, 1.0, high_open=True)
        check_positive("noise_multiple", self.noise_multiple)
        check_int("growth_steps", self.growth_steps, minimum=2)
        check_positive("growth_threshold", self.growth_threshold)
        check_int("warmup", self.warmup, minimum=1)

    def update(self, loss: float) -> bool:
        """Record ``loss``; True when the sweep has diverged (a non-finite loss always has)."""
        loss = float(loss)
        if not math.isfinite(loss):
            self.onset = len(self.losses)
            self.losses.append(loss)
            self.smoothed.append(loss)
            return True
        self._v = self.beta * self._v + (1.0 - self.beta) * loss
        self._w *= self.beta
        self.losses.append(loss)
        self.smoothed.append(self._v / (1.0 - self._w))
        n = len(self.losses)
        if n <= self.warmup:
            return False
        # the reference excludes the newest points, which may already be blowing up
        best = min(self.smoothed[: n - 1])
        scale = self.scale()
        excess = (loss - best) / scale
        self._above = self._above + 1 if excess > self.threshold else 0
        if self._above >= self.patience:
            self.onset = self._find_onset(best, scale)
            return True
        if n > self.growth_steps and excess > self.growth_threshold:
            recent = np.asarray(self.losses[-self.growth_steps - 1 :])
            noise = self.noise()
            rises = np.diff(recent)
            if np.all(rises > noise) and np.all(np.diff(rises) > 0):
                self.onset = self._find_onset(best, scale)
                return True
        return False

    def noise(self) -> float:
        """Robust scatter of the recent raw losses around their trend, as a standard deviation."""
        # a recent window: the scatter grows with the rate, and the newest points may
        # already be the blow-up being tested
        window = np.asarray(self.losses[-self.window - 2 : -2] if len(self.losses) > 4 else self.losses)
        # second differences cancel a smooth trend; for white noise of sd s they have sd
        # s * sqrt(6), and 1.4826 * MAD estimates an sd robustly
        second = np.diff(window, n=2)
        if second.size == 0:
            return 0.0
        return float(1.4826 * np.median(np.abs(second)) / math.sqrt(6.0))

    def scale(self) -> float:
        """The unit the rise is measured in: the curve's drop, or its noise if larger."""
        start_level = float(np.median(self.losses[:3]))
        best = min(self.smoothed)
        drop = max(start_level - best, 0.0)
        tiny = 1e-12 * max(1.0, abs(best))
        return max(drop, self.noise_multiple * self.noise(), tiny)

    def _find_onset(self, best: float, scale: float) -> int:
        # walk back over the run of geometrically rising losses that ends at the newest
        # point: an unstable direction grows by a factor per step, visible long before it
        # is large; a slow drift upwards (noise growing with the rate) is not walked over
        losses = self.losses
        noise = self.noise()
        i = len(losses) - 1
        while i > 1:
            floor = min(losses[: i - 1])
            now, before = losses[i] - floor, losses[i - 1] - floor
            if not (before > noise * GROWTH_NOISE and now > GROWTH_FACTOR * before):
                break
            i -= 1
        return i
