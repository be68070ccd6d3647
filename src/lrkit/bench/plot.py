"""A grouped bar chart of held-out loss ratios, one group per problem, one bar per method."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lrkit._optional import pyplot
from lrkit.bench.runner import BenchResult


def plot_ratios(result: BenchResult, ax: Any = None, *, cap: float = 3.0) -> Any:
    """Bars of ratio to the grid's best (log scale, diverged and huge ratios drawn at ``cap``).

    Returns the matplotlib Axes; nothing is shown or saved.
    """
    plt = pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(result.problems) + 2), 4.0))
    width = 0.8 / len(result.methods)
    x = np.arange(len(result.problems))
    for i, method in enumerate(result.methods):
        ratios = [result.cell(p, method).ratio for p in result.problems]
        shown = [min(r, cap) if math.isfinite(r) else cap for r in ratios]
        ax.bar(x + (i - (len(result.methods) - 1) / 2) * width, shown, width, label=method)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.axhline(1.15, color="grey", linewidth=0.8, linestyle="--")
    ax.set_yscale("log")
    ax.set_xticks(x)
    ax.set_xticklabels(result.problems, rotation=30, ha="right")
    ax.set_ylabel("held-out loss / grid's best")
    ax.set_title(f"mean over {len(result.seeds)} seeds (capped at {cap:g})")
    ax.legend(fontsize="small", ncol=2)
    ax.figure.tight_layout()
    return ax
