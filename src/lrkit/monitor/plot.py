"""Plot a :class:`~lrkit.monitor.Diagnosis`: the loss over steps with the spans of each
verdict shaded in its colour. Returns the Axes; never shows a window."""

from __future__ import annotations

from typing import Any

import numpy as np

from lrkit._optional import pyplot
from lrkit.monitor.replay import Diagnosis

COLOURS = {
    "ok": None,
    "too_low": "tab:blue",
    "plateau": "tab:gray",
    "too_high": "tab:orange",
    "diverged": "tab:red",
}


def plot_diagnosis(diagnosis: Diagnosis, ax: Any = None, *, title: str | None = None) -> Any:
    """Loss against step (log scale when every loss is positive), verdict spans shaded.

    >>> from lrkit.monitor import diagnose
    >>> ax = plot_diagnosis(diagnose([1.0 / (1 + t) for t in range(50)]))
    >>> ax.get_xlabel()
    'step'
    """
    plt = pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    steps = np.asarray(diagnosis.steps, dtype=float)
    losses = np.asarray(diagnosis.losses, dtype=float)
    finite = np.isfinite(losses)
    ax.plot(steps[finite], losses[finite], color="black", linewidth=0.8, label="loss")
    if finite.any() and np.all(losses[finite] > 0):
        ax.set_yscale("log")
    seen: set[str] = set()
    start = 0
    statuses = diagnosis.statuses
    for i in range(1, len(statuses) + 1):
        if i == len(statuses) or statuses[i] != statuses[start]:
            status = statuses[start]
            colour = COLOURS.get(status)
            if colour is not None:
                left = steps[start]
                right = steps[i] if i < len(steps) else steps[-1] + 1
                ax.axvspan(left, right, color=colour, alpha=0.25, linewidth=0,
                           label=None if status in seen else status)
                seen.add(status)
            start = i
    bad = np.flatnonzero(~finite)
    if bad.size:  # where the loss first stopped being a number
        ax.axvline(steps[bad[0]], color=COLOURS["diverged"], linewidth=1.5, linestyle="--",
                   label="non-finite loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title or f"lrkit diagnose: {diagnosis.status}")
    ax.legend(loc="upper right", fontsize="small")
    return ax
