"""Plot a study: final value against rate, with pruned and diverged trials marked."""

from __future__ import annotations

import math
from typing import Any

from lrkit._optional import pyplot


def plot_trials(result: Any, ax: Any = None, *, title: str | None = None) -> Any:
    """Final loss against learning rate (log axis) for a :class:`TuneResult` or a study.

    Completed trials are dots, pruned trials crosses at their last reported value,
    diverged trials red triangles along the top edge, and the best rate a dashed line.
    Returns the matplotlib Axes.

    >>> from lrkit.tuning import tune
    >>> r = tune(lambda t: (t.lr - 0.1) ** 2, n_trials=5, lr_range=(1e-3, 1.0))
    >>> plot_trials(r).get_xscale()
    'log'
    """
    from lrkit.tuning.api import TuneResult, result_of

    if not isinstance(result, TuneResult):
        result = result_of(result)
    plt = pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.set_xscale("log")
    rows = [r for r in result.trials if r["lr"] is not None]
    finite = [r["value"] for r in rows if r["value"] is not None and math.isfinite(r["value"])
              and r["state"] in ("complete", "pruned")]
    top = max(finite) if finite else 1.0
    bottom = min(finite) if finite else 0.0
    ceiling = top + 0.08 * (top - bottom or abs(top) or 1.0)
    styles = {
        "complete": dict(marker="o", color="C0", label="complete"),
        "pruned": dict(marker="x", color="0.5", label="pruned (last report)"),
        "diverged": dict(marker="^", color="C3", label="diverged"),
        "failed": dict(marker="s", color="C1", label="failed (retried)"),
    }
    for state, style in styles.items():
        pts = [r for r in rows if r["state"] == state]
        if not pts:
            continue
        xs = [r["lr"] for r in pts]
        ys = [ceiling if state in ("diverged", "failed") or r["value"] is None
              or not math.isfinite(r["value"]) else r["value"] for r in pts]
        ax.scatter(xs, ys, linestyle="none", **style)
    if result.best_lr is not None:
        ax.axvline(result.best_lr, color="C2", linestyle="--",
                   label=f"best lr = {result.best_lr:.3g}")
    rates = [r["lr"] for r in rows]
    if rates and min(rates) == max(rates):  # one rate only: give the axis some width
        ax.set_xlim(rates[0] / 3, rates[0] * 3)
    ax.set_xlabel("learning rate")
    ax.set_ylabel("final loss (pruned: last reported loss)")
    ax.set_title(title or f"lrkit tune: {result.study.study_name}")
    ax.legend(fontsize="small")
    ax.grid(True, which="both", alpha=0.3)
    return ax
