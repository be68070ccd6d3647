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
>>> losses = [5, 4, 3, 2, 1, 0, -1, -1.5, -1.8, -2, -2.1, -2.1, -2.2, -2.1, 0, 4]
>>> [d.update(x) for x in losses][-3:], d.onset      # blown up; it started at step 13
([False, False, True], 13)
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
    noise_multiple: float = 6.0
    growth_steps: int = 3
    growth_threshold: float = 0.25
    warmup: int = 12
    window: int = 20
    losses: list[float] = field(default_factory=list, repr=False)
    smoothed: list[float] = field(default_factory=list, repr=False)
    onset: int | None = field(default=None, repr=False)
    _v: float = field(default=0.0, repr=False)
    _w: float = field(default=1.0, repr=False)
    _above: int = field(default=0, repr=False)
    _noise: float = field(default=0.0, repr=False)
    _best_before: float = field(default=math.inf, repr=False)

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
        if self.smoothed:
            # the reference excludes the newest point, which may already be blowing up
            self._best_before = min(self._best_before, self.smoothed[-1])
        self.losses.append(loss)
        self.smoothed.append(self._v / (1.0 - self._w))
        # the running maximum: a lucky quiet stretch must not make the test trigger-happy
        self._noise = max(self._noise, self._window_noise())
        n = len(self.losses)
        if n <= self.warmup:
            return False
        best = self._best_before
        scale = self.scale()
        excess = (loss - best) / scale
        self._above = self._above + 1 if excess > self.threshold else 0
        if self._above >= self.patience:
            self.onset = self._find_onset(best, scale)
            return True
        noise = self.noise()
        if n > self.growth_steps and excess > self.growth_threshold and loss - best > 6.0 * noise:
            recent = np.asarray(self.losses[-self.growth_steps - 1 :])
            rises = np.diff(recent)
            if np.all(rises > noise) and np.all(np.diff(rises) > 0):
                self.onset = self._find_onset(best, scale)
                return True
        return False

    def noise(self) -> float:
        """Robust scatter of the raw losses around their trend, as a standard deviation:
        the largest estimate over the recent windows seen so far."""
        return self._noise

    def _window_noise(self) -> float:
        # a recent window: the scatter grows with the rate, and the newest points may
        # already be the blow-up being tested
        window = self.losses[-self.window - 2 : -2] if len(self.losses) > 4 else self.losses
        # second differences cancel a smooth trend; for white noise of sd s they have sd
        # s * sqrt(6), and 1.4826 * MAD estimates an sd robustly (plain Python: this runs
        # every step on a handful of numbers, where numpy's overhead dominates)
        second = sorted(abs(a - 2.0 * b + c) for a, b, c in zip(window, window[1:], window[2:], strict=False))
        if len(second) < 3:
            return 0.0
        half = len(second) // 2
        mad = second[half] if len(second) % 2 else 0.5 * (second[half - 1] + second[half])
        return 1.4826 * mad / math.sqrt(6.0)

    def scale(self) -> float:
        """The unit the rise is measured in: the curve's drop, or its noise if larger."""
        start_level = sorted(self.losses[:3])[min(len(self.losses), 3) // 2]
        best = min(self._best_before, self.smoothed[-1])
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


# the growth-based estimate may lower the edge by at most this factor
MAX_GROWTH_CORRECTION = 3.0
# growth is measured only from an excess above this many noise units
GROWTH_CLEAR = 6.0


def growth_edge(lrs: np.ndarray, losses: np.ndarray, onset: int | None) -> float | None:
    """The divergence edge, refined from how fast the blow-up grows.

    The plain edge is the rate of the last update before the first raised loss,
    ``lrs[onset - 1]``. But a stiff direction of curvature ``lam`` that has become
    unstable grows by ``(lr * lam - 1) ** 2`` per update of gradient descent, and it is
    visible in the loss only once it has grown out of the noise, some steps past its edge
    ``2 / lam``. Measuring the growth ``g`` of the excess over the lowest loss at a rate
    ``lr`` of the blow-up solves for that edge::

        edge ~= 2 * lr / (1 + sqrt(g))

    lrkit takes the lowest such estimate over the blow-up, never above the plain edge and
    never below ``1 / MAX_GROWTH_CORRECTION`` of it. Where the loss grows slowly (adaptive
    optimizers drift upwards rather than explode), the estimates sit at or above the plain
    edge and change nothing.

    >>> lrs = np.geomspace(0.01, 1.0, 30)
    >>> x, losses = 1.0, []
    >>> for lr in lrs:      # gradient descent on 5 x^2: curvature 10, edge 2 / 10 = 0.2
    ...     losses.append(5.0 * x * x); x *= 1 - lr * 10
    >>> late = int(np.searchsorted(lrs, 0.35))       # a blow-up noticed late, at 0.33
    >>> round(float(lrs[late - 1]), 2), round(growth_edge(lrs, np.array(losses), late), 2)
    (0.33, 0.2)
    """
    if onset is None or onset < 1:
        return None if onset is None else float(lrs[0])
    lrs = np.asarray(lrs, dtype=float)
    losses = np.asarray(losses, dtype=float)
    plain = float(lrs[onset - 1])
    floor = float(np.min(losses[:onset]))
    # only growth well clear of the recent noise counts: a noisy rise would fake a fast one
    second = np.diff(losses[max(0, onset - 12) : onset], n=2)
    noise = float(1.4826 * np.median(np.abs(second)) / math.sqrt(6.0)) if second.size else 0.0
    best = plain
    for j in range(onset - 1, len(losses) - 1):
        before, after = losses[j] - floor, losses[j + 1] - floor
        if not (np.isfinite(after) and before > GROWTH_CLEAR * noise and after > before):
            continue
        best = min(best, 2.0 * float(lrs[j]) / (1.0 + math.sqrt(after / before)))
    return float(max(best, plain / MAX_GROWTH_CORRECTION))
