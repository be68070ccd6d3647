"""Telling a training loss that blew up from one that is merely noisy."""

from __future__ import annotations

import math

import numpy as np

#: before the reference is set, a loss this many times the start's size above the start
#: is a blow-up (a healthy start does not rise tenfold within a few steps)
EARLY_SPIKE = 10.0


class BlowUp:
    """Sign- and scale-free test that training blew up or lost all its progress, robust
    to noisy per-batch losses.

    The first ``warmup`` losses set the reference: their median ``ref`` and their spread
    ``noise`` (1.4826 x the median absolute deviation, about one standard deviation).
    Within them, once two are in, only a loss far above the start counts as a spike,
    ``loss > start + 10 * max(|start|, range)`` (the median and range of the losses so
    far). After that, a loss blew up when it is non-finite or

        loss > ref + max(3 * (ref - lowest smoothed), 10 * noise, |ref|)

    (far above where training started, by more than its progress, its noise and its own
    size), and training lost its progress when the moving average (``beta``,
    bias-corrected) had fallen below ``ref`` by more than ``max(0.1 |ref|, 2 noise)`` and
    is back above ``ref`` (a network that died after a spike). That verdict is about a
    trend, so it is given only once the moving average holds ``warmup`` losses since the
    last :meth:`restart`; a spike is judged at once.

    >>> watch = BlowUp(warmup=4)
    >>> [watch.update(v) for v in (2.0, 2.1, 1.9, 2.0, 1.5, 1.0, 0.8, 40.0)]
    [False, False, False, False, False, False, False, True]
    """

    def __init__(self, beta: float = 0.9, warmup: int = 8) -> None:
        self.beta = beta
        self.warmup = warmup
        self.first: list[float] = []
        self.ref = math.nan
        self.noise = 0.0
        self.lowest_smoothed = math.inf
        self.reason = ""
        self.restart()

    def restart(self) -> None:
        """Forget the moving average (after going back to a checkpoint); keep the reference."""
        self.average = 0.0
        self.averaged = 0
        self.fell = False

    def smoothed(self) -> float:
        if not self.averaged:
            return math.nan
        return self.average / (1 - self.beta**self.averaged)

    def healthy(self) -> bool:
        """True unless the smoothed loss sits above the reference (a bad point to checkpoint)."""
        return not self.averaged or math.isnan(self.ref) or self.smoothed() <= self.ref

    def _far_above_start(self, loss: float) -> bool:
        """Before the reference is set: a loss more than ``EARLY_SPIKE`` times the start's
        own size above it, a blow-up already under way (too high a rate can grow the loss
        by orders of magnitude within the warmup, and a warmup that looked away would
        take those losses for the reference)."""
        values = np.array(self.first)
        start = float(np.median(values))
        # the range, not a robust spread: two or three per-batch losses of a heavy-tailed
        # loss can differ 50-fold at a healthy start, and all of them are the start's
        spread = float(values.max() - values.min())
        return loss > start + EARLY_SPIKE * max(abs(start), spread, 1e-12)

    def update(self, loss: float) -> bool:
        """Feed one training loss; True when training blew up, with ``self.reason`` set to
        ``"nonfinite"``, ``"spike"`` (this loss far above the reference) or ``"lost progress"``
        (the moving average climbed back: a trend, not one batch)."""
        self.reason = ""
        if not math.isfinite(loss):
            self.reason = "nonfinite"
            return True
        self.averaged += 1
        self.average = self.beta * self.average + (1 - self.beta) * loss
        smoothed = self.smoothed()
        if len(self.first) < self.warmup:
            if len(self.first) >= 2 and self._far_above_start(loss):
                self.reason = "spike"
                return True
            self.first.append(loss)
            if len(self.first) == self.warmup:
                values = np.array(self.first)
                self.ref = float(np.median(values))
                self.noise = float(1.4826 * np.median(np.abs(values - self.ref)))
            return False
        self.lowest_smoothed = min(self.lowest_smoothed, smoothed)
        progress = max(self.ref - self.lowest_smoothed, 0.0)
        if loss > self.ref + max(3 * progress, 10 * self.noise, abs(self.ref), 1e-12):
            self.reason = "spike"
            return True
        if self.averaged < self.warmup:
            # right after a restart the bias-corrected average is one or two batches: a
            # single hard batch would read as a trend (and, at a rollback, as a rate to halve)
            return False
        if self.ref - smoothed > max(0.1 * abs(self.ref), 2 * self.noise):
            self.fell = True
        if self.fell and smoothed > self.ref:
            self.reason = "lost progress"
            return True
        return False
