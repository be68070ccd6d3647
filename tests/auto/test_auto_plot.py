"""``lrkit.auto.plot.plot_auto``: the search panel stays readable."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

pytest.importorskip("matplotlib")


def _result(candidates):
    return SimpleNamespace(lr=0.5, edge_lr=3.0, candidates=candidates,
                           lrs=[0.1, 0.2, 0.3] * 4, losses=[3.0, 2.0, 1.0] * 4)


def test_search_panel_is_log_scaled_when_held_back_losses_span_decades():
    from lrkit._optional import pyplot
    from lrkit.auto.plot import plot_auto

    fig = plot_auto(_result([(3.0, 2.7e24), (1.0, 3.2e13), (0.3, 0.5)]))
    assert fig.axes[0].get_yscale() == "log"
    pyplot().close(fig)
    fig = plot_auto(_result([(3.0, 0.9), (1.0, 0.5)]))
    assert fig.axes[0].get_yscale() == "linear"
    pyplot().close(fig)


def test_raced_rates_are_drawn_left_to_right_whatever_order_they_ran_in():
    from lrkit._optional import pyplot
    from lrkit.auto.plot import plot_auto

    # the walk's order: edge/9, edge/3, edge/27, then half steps
    fig = plot_auto(_result([(0.33, 0.8), (1.0, 0.9), (0.11, 0.7), (0.19, 0.6), (0.06, 0.75)]))
    line = fig.axes[0].get_lines()[0]
    assert list(line.get_xdata()) == sorted(line.get_xdata())
    pyplot().close(fig)


def test_a_passed_over_step_leaves_no_gap_in_the_moving_mean():
    import math

    from lrkit._optional import pyplot
    from lrkit.auto.plot import plot_auto

    result = _result([(0.3, 0.5)])
    result.lrs = [0.1] * 100
    result.losses = [1.0] * 50 + [math.nan] + [1.0] * 49
    fig = plot_auto(result)
    mean_line = fig.axes[2].get_lines()[1]
    assert all(math.isfinite(v) for v in mean_line.get_ydata())
    pyplot().close(fig)
