"""The range-test plot: loss against rate on a log axis, raw and smoothed, with every
rule's pick, lrkit's band and the divergence edge marked.

>>> import numpy as np
>>> from lrkit.finder import analyze
>>> lrs = np.geomspace(1e-5, 1.0, 60)
>>> result = analyze(lrs, 1.0 / (1.0 + lrs / 1e-3) + lrs ** 2, onset=55)
>>> ax = plot_range_test(result)
>>> ax.get_xscale()
'log'
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lrkit._optional import pyplot

_RULE_STYLES = {
    "steepest": ("tab:orange", ":"),
    "valley": ("tab:green", ":"),
    "minimum/10": ("tab:purple", ":"),
    "edge/3": ("tab:brown", ":"),
}


def plot_range_test(result: Any, ax: Any = None, *, title: str | None = None) -> Any:
    """Draw ``result`` (a :class:`lrkit.RangeTestResult`) on ``ax`` (a new figure when
    None) and return the Axes. Never calls ``plt.show()``."""
    plt = pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 4.5), layout="constrained")
    lrs, losses, smoothed = result.lrs, result.losses, result.smoothed
    finite = np.isfinite(losses)
    ax.plot(lrs[finite], losses[finite], color="tab:blue", alpha=0.3, lw=1, label="loss")
    ax.plot(lrs[finite], smoothed[finite], color="tab:blue", lw=2, label="smoothed")
    ax.set_xscale("log")
    _limit_y(ax, losses[finite], smoothed[finite], result.divergence_index)
    if result.divergence_lr is not None:
        ax.axvline(result.divergence_lr, color="tab:red", lw=1.5,
                   label=f"divergence edge {result.divergence_lr:.2g}")
    for rule, lr in result.suggestions.items():
        if rule == "lrkit" or lr is None or rule not in _RULE_STYLES:
            continue
        color, style = _RULE_STYLES[rule]
        ax.axvline(lr, color=color, ls=style, lw=1.2, label=f"{rule} {lr:.2g}")
    if result.suggestion is not None:
        if result.band is not None:
            ax.axvspan(*result.band, color="tab:green", alpha=0.12, label="band")
        ax.axvline(result.suggestion, color="black", lw=2, label=f"lrkit {result.suggestion:.2g}")
    else:
        ax.text(0.02, 0.04, f"no reliable suggestion: {result.note}", transform=ax.transAxes,
                fontsize=8, color="tab:red", wrap=True)
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss")
    ax.set_title(title or f"learning-rate range test ({result.stop_reason}, {result.steps} steps)")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=8, loc="best")
    return ax


def _limit_y(ax: Any, losses: np.ndarray, smoothed: np.ndarray, onset: int | None) -> None:
    # keep the blown-up tail from squashing the interesting part of the curve
    if losses.size < 2:
        return
    body = losses[: onset + 1] if onset is not None else losses
    low = float(min(np.min(body), np.min(smoothed)))
    high = float(np.max(smoothed[: len(body)]))
    pad = 0.1 * max(high - low, 1e-12)
    ax.set_ylim(low - pad, high + 3 * pad)
