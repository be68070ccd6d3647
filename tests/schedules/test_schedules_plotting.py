"""plot_schedule draws the schedule's own values and returns the Axes."""

from __future__ import annotations

import numpy as np
import pytest

from lrkit import schedules as S
from lrkit.schedules.plotting import plot_schedule


def test_plot_draws_the_values_and_labels_axes() -> None:
    s = S.warmup(10, S.cosine(90, final=0.1))
    ax = plot_schedule(s, 100)
    x, y = ax.lines[0].get_data()
    np.testing.assert_array_equal(x, np.arange(100))
    np.testing.assert_array_equal(y, s(np.arange(100)))
    assert ax.get_xlabel() == "step" and ax.get_ylabel() == "multiplier"
    assert ax.lines[0].get_label() == str(s)

    ax2 = plot_schedule(s, 100, base_lr=0.5, log=True, label="lr")
    np.testing.assert_allclose(ax2.lines[0].get_ydata(), 0.5 * s(np.arange(100)))
    assert ax2.get_yscale() == "log" and ax2.get_ylabel() == "lr"
    import matplotlib.pyplot as plt

    plt.close("all")


def test_plot_rejects_bad_input() -> None:
    with pytest.raises(TypeError, match="`schedule` must be an lrkit schedule"):
        plot_schedule("cosine(10)", 10)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`total_steps` must be a positive integer"):
        plot_schedule(S.cosine(10), 0)


def test_max_points_bounds_the_steps_evaluated() -> None:
    from lrkit.schedules import cosine
    from lrkit.schedules.plotting import plot_schedule

    ax = plot_schedule(cosine(10**12), 10**12, max_points=101)
    x, y = ax.lines[0].get_data()
    assert len(x) == 101 and x[0] == 0 and x[-1] == 10**12 - 1
    assert y[0] == 1.0 and abs(y[50] - 0.5) < 1e-6
    short = plot_schedule(cosine(50), 50, max_points=101)  # shorter than the bound: every step
    assert len(short.lines[0].get_data()[0]) == 50
