"""Plot what ``autotrain`` did: the raced rates, and the rate and loss of the final run."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lrkit._optional import pyplot


def plot_auto(result: Any, *, title: str | None = None) -> Any:
    """Three panels from an :class:`lrkit.torch.AutoResult` (or anything with ``lr``,
    ``edge_lr``, ``candidates``, ``lrs`` and ``losses``): held-back loss of each raced rate,
    the realised rate per step and the training loss per step. Returns the Figure.
    """
    plt = pyplot()
    fig, (race, rate, loss) = plt.subplots(1, 3, figsize=(13, 3.8))
    if result.candidates:
        # raced in the walk's order; drawn left to right
        ordered = sorted(result.candidates)
        lrs = np.array([c[0] for c in ordered])
        scores = np.array([c[1] for c in ordered])
        finite = np.isfinite(scores)
        race.plot(lrs[finite], scores[finite], "o-", label="raced (held-back loss)")
        if (~finite).any():
            top = scores[finite].max() if finite.any() else 1.0
            race.plot(lrs[~finite], np.full((~finite).sum(), top), "rx", label="diverged")
        shown = scores[finite]
        if shown.size and shown.min() > 0 and shown.max() > 100 * shown.min():
            race.set_yscale("log")  # a blown-up candidate would flatten the others to zero
    if result.edge_lr is not None:
        race.axvline(result.edge_lr, color="red", linestyle=":", label="edge / top of range test")
    race.axvline(result.lr, color="green", linestyle="--", label=f"chosen {result.lr:.3g}")
    race.set_xscale("log")
    race.set_xlabel("peak rate")
    race.set_ylabel("held-back loss")
    race.set_title("search")
    race.legend(fontsize="small")
    steps = np.arange(len(result.lrs))
    rate.plot(steps, result.lrs)
    rate.set_xlabel("step")
    rate.set_ylabel("rate")
    rate.set_title("final run: rate")
    losses = np.array(result.losses, dtype=float)
    loss.plot(steps, losses, alpha=0.4, label="per step")
    if len(losses) >= 10:
        window = max(2, len(losses) // 25)
        kernel = np.ones(window) / window
        # a passed-over step (nan) is left out of the mean rather than blanking its window
        finite = np.isfinite(losses)
        sums = np.convolve(np.where(finite, losses, 0.0), kernel, mode="valid")
        counts = np.convolve(finite.astype(float), kernel, mode="valid")
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(counts > 0, sums / counts, np.nan)
        loss.plot(steps[window - 1:], means, label=f"mean of {window}")
    if len(losses) and np.all(losses[np.isfinite(losses)] > 0):
        loss.set_yscale("log")
    loss.set_xlabel("step")
    loss.set_ylabel("training loss")
    loss.set_title("final run: loss")
    loss.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None
