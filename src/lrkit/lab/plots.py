"""Pictures of the lab's experiments. matplotlib is imported inside each function (Agg
unless an interactive backend is already in use); nothing is shown, the figures are
returned for the caller to save.

>>> from lrkit import lab
>>> ax = lab.plots.plot_sweep(lab.sweep("quadratic", "gd", num=40, steps=200))
>>> ax.get_xscale(), ax.get_yscale()
('log', 'log')
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lrkit._optional import pyplot
from lrkit.lab.experiments import CompareResult, DecayResult, PathResult, SweepResult

# gaps are drawn on log axes: exact zeros (a run that reached the answer to the last bit)
# are lifted to this floor
FLOOR = 1e-30

ZONE_COLORS = {"too low": "#9ecae1", "good": "#a1d99b", "too high": "#fc9272"}
THEORY_STYLES = {"1/L": ":", "2/(L+mu)": "--", "2/L": "-", "2(1+m)/L": "-"}


def _floor(values: np.ndarray) -> np.ndarray:
    return np.maximum(np.asarray(values, dtype=float), FLOOR)


def _axes(ax: Any, figsize: tuple[float, float] = (7.0, 4.5)) -> Any:
    if ax is not None:
        return ax
    plt = pyplot()
    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def plot_sweep(result: SweepResult, ax: Any = None) -> Any:
    """Final gap against the rate on log-log axes, with the zones shaded and theory drawn.

    The too-low, good and too-high zones are shaded; the theoretical rates (``1/L``,
    ``2/(L+mu)`` and ``2/L`` for gradient descent) are vertical lines; rates that diverged
    are crosses along the top edge. Returns the Axes.
    """
    ax = _axes(ax)
    lrs = result.lrs
    finals = np.asarray(result.final_gaps, dtype=float)
    ok = np.isfinite(finals) & ~result.diverged
    # zone edges halfway (geometrically) between neighbouring grid rates (the product of
    # square roots: the square root of the product overflows for rates past 1e154)
    edges = np.concatenate([[lrs[0]], np.sqrt(lrs[1:]) * np.sqrt(lrs[:-1]), [lrs[-1]]])
    zones = list(result.zones)
    start = 0
    for i in range(1, len(zones) + 1):
        if i == len(zones) or zones[i] != zones[start]:
            ax.axvspan(edges[start], edges[i], color=ZONE_COLORS[zones[start]], alpha=0.35,
                       lw=0, label=f"{zones[start]}")
            start = i
    ax.loglog(lrs[ok], _floor(finals[ok]), color="black", lw=1.5, marker=".", ms=3,
              label="final gap f(x_T) - f*")
    finite = finals[np.isfinite(finals)]
    top = max(result.initial_gap, float(finite.max()) if finite.size else result.initial_gap)
    if np.any(~ok):
        ax.scatter(lrs[~ok], np.full(int(np.sum(~ok)), top * 3), marker="x", color="#cb181d",
                   s=14, label="diverged", zorder=3)
    ax.axhline(result.initial_gap, color="grey", lw=0.8, ls=":", label="start")
    if result.resolution > 0 and np.any(finals[ok] <= result.resolution):
        ax.axhline(result.resolution, color="grey", lw=0.8, ls="--",
                   label="rounding floor (float64)")
    for label, rate in result.theory.items():
        ax.axvline(rate, color="#54278f", lw=1.2, ls=THEORY_STYLES.get(label, "-."),
                   label=f"{label} = {rate:.3g}")
    if np.isfinite(result.best_lr):  # nan when every rate diverged
        ax.scatter([result.best_lr], [max(result.best_gap, FLOOR)], marker="*", s=120,
                   color="#e6550d", zorder=4, label=f"best measured = {result.best_lr:.3g}")
    ax.set_xlim(lrs[0], lrs[-1])
    ax.set_xlabel("learning rate")
    ax.set_ylabel("final gap to the minimum")
    ax.set_title(f"{result.optimizer} on {result.objective}, {result.steps} steps", fontsize=10)
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    ax.legend(unique.values(), unique.keys(), fontsize=7, loc="best", framealpha=0.9)
    return ax


def _contours(ax: Any, objective: Any) -> None:
    (x0, x1), (y0, y1) = objective.bounds
    gx, gy = np.meshgrid(np.linspace(x0, x1, 300), np.linspace(y0, y1, 300))
    gap = objective.loss(np.stack([gx, gy], axis=-1)) - objective.f_star
    levels = np.geomspace(max(float(np.percentile(gap, 0.5)), 1e-4), float(gap.max()), 25)
    ax.contour(gx, gy, np.maximum(gap, 1e-12), levels=levels, cmap="Greys", linewidths=0.6,
               norm=_log_norm())
    ax.plot(*objective.x_star, marker="*", color="black", ms=12, ls="", label="minimum")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("x[0]")
    ax.set_ylabel("x[1]")


def _log_norm() -> Any:
    from matplotlib.colors import LogNorm

    return LogNorm()


def plot_path(result: PathResult) -> Any:
    """Trajectories on the contour plot (2-D objectives) beside the loss curves. Returns the Figure."""
    plt = pyplot()
    two_d = result.objective.dim == 2 and result.objective.bounds is not None
    fig, axes = plt.subplots(1, 2 if two_d else 1, figsize=(11, 4.6) if two_d else (6.5, 4.5),
                             layout="constrained", squeeze=False)
    axes = axes[0]
    colors = plt.get_cmap("tab10").colors
    if two_d:
        ax = axes[0]
        _contours(ax, result.objective)
        for i, (lr, xs) in enumerate(zip(result.lrs, result.xs, strict=True)):
            c = colors[i % 10]
            ax.plot(xs[:, 0], xs[:, 1], color=c, lw=1.2, marker=".", ms=2, label=f"lr={lr:g}")
            ax.plot(*xs[-1], marker="o", color=c, ms=6, mec="black")
        ax.plot(*result.objective.x0[:2], marker="s", color="white", mec="black", ms=7, ls="",
                label="start")
        ax.set_title(f"{result.optimizer} on {result.objective.description}", fontsize=10)
        ax.legend(fontsize=7, loc="upper left")
    ax = axes[-1]
    for i, (lr, gaps, diverged) in enumerate(zip(result.lrs, result.gaps, result.diverged,
                                                  strict=True)):
        label = f"lr={lr:g}" + (" (diverged)" if diverged else "")
        ax.semilogy(_floor(gaps), color=colors[i % 10], lw=1.3, label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("gap f(x_t) - f*")
    ax.set_title("loss curves", fontsize=10)
    ax.legend(fontsize=7)
    return fig


def plot_decay(result: DecayResult) -> Any:
    """The gap of constant and decayed rates over the steps, above the rates themselves."""
    plt = pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7.5, 6.2), sharex=True,
                                      height_ratios=(3, 1.3), layout="constrained")
    colors = {"decayed": "#d94701"}
    palette = iter(("#2171b5", "#6baed6"))
    for label, gaps in result.curves.items():
        color = colors.get(label) or next(palette)
        end = f"end {result.finals[label]:.2g}"
        count = result.diverged.get(label, 0)
        if count:  # an inf gap draws nothing past the blow-up: say so in the legend
            end = "diverged" if count == result.seeds else f"{end}, {count} seeds diverged"
        top.semilogy(_floor(gaps), color=color, lw=1.4, label=f"{label} ({end})")
        bottom.plot(result.rates[label], color=color, lw=1.4, label=label)
    if result.noise_floor is not None:
        top.axhline(result.noise_floor, color="#2171b5", ls="--", lw=1,
                    label=f"theory: noise floor of constant lr ({result.noise_floor:.2g})")
    top.set_ylabel(f"gap, mean of {result.seeds} seeds")
    top.set_title(f"{result.optimizer} on {result.objective}: lr={result.lr:g}, "
                  f"decay {result.schedule}", fontsize=10)
    top.legend(fontsize=7)
    bottom.set_ylabel("learning rate")
    bottom.set_xlabel("step")
    return fig


def plot_compare(result: CompareResult) -> Any:
    """Each optimizer at its best rate (left) and each one's sweep (right). Returns the Figure."""
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11.5, 4.6), layout="constrained")
    colors = plt.get_cmap("tab10").colors
    for i, entry in enumerate(result.entries):
        c = colors[i % 10]
        left.semilogy(_floor(entry.gaps), color=c, lw=1.4,
                      label=f"{entry.optimizer} (lr={entry.best_lr:.2g})")
        s = entry.sweep
        ok = np.isfinite(s.final_gaps) & ~s.diverged
        right.loglog(s.lrs[ok], _floor(s.final_gaps[ok]), color=c, lw=1.2, label=entry.optimizer)
        right.scatter([entry.best_lr], [max(entry.sweep.best_gap, FLOOR)], color=c, marker="*",
                      s=80, zorder=3)
    left.set_xlabel("step")
    left.set_ylabel("gap f(x_t) - f*")
    left.set_title(f"at each optimizer's best rate, on {result.objective}", fontsize=10)
    left.legend(fontsize=7)
    right.set_xlabel("learning rate")
    right.set_ylabel(f"final gap after {result.steps} steps")
    right.set_title("rate sweeps (diverged rates left out)", fontsize=10)
    right.legend(fontsize=7)
    return fig


def save(figure_or_axes: Any, path: Any, dpi: int = 110) -> None:
    """Write a figure (or the figure of an Axes) to ``path`` and close it."""
    figure = getattr(figure_or_axes, "figure", figure_or_axes)
    figure.savefig(path, dpi=dpi)
    pyplot().close(figure)
