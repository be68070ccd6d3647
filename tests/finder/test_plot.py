import math

import numpy as np

from lrkit._optional import pyplot
from lrkit.finder import analyze


def _result(onset=55):
    lrs = np.geomspace(1e-5, 1.0, 60)
    losses = 1.0 / (1.0 + lrs / 1e-3)
    losses[onset:] = np.geomspace(1.0, 1e6, 60 - onset)
    return analyze(lrs, losses, stop_reason="diverged", onset=onset)


def test_plot_returns_axes_with_everything_marked():
    plt = pyplot()
    result = _result()
    ax = result.plot()
    try:
        assert ax.get_xscale() == "log"
        labels = [line.get_label() for line in ax.get_lines()]
        assert labels[:2] == ["loss", "smoothed"]
        assert any(label.startswith("divergence edge") for label in labels)
        assert any(label.startswith("lrkit ") for label in labels)
        assert any(label.startswith("valley") for label in labels)
        # the blown-up tail does not squash the curve
        assert ax.get_ylim()[1] < 10
    finally:
        plt.close(ax.figure)


def test_plot_on_given_axes_and_without_suggestion():
    plt = pyplot()
    fig, ax = plt.subplots()
    lrs = np.geomspace(1e-5, 1.0, 30)
    result = analyze(lrs, np.ones(30), stop_reason="end")
    assert result.suggestion is None
    assert result.plot(ax=ax) is ax
    assert any("no reliable suggestion" in t.get_text() for t in ax.texts)
    plt.close(fig)


def test_plot_skips_nonfinite_points():
    plt = pyplot()
    lrs = np.geomspace(1e-5, 1.0, 20)
    losses = np.linspace(2.0, 1.0, 20)
    losses[-1] = math.nan
    ax = analyze(lrs, losses, stop_reason="nonfinite", onset=19).plot()
    assert np.isfinite(ax.get_lines()[0].get_ydata()).all()
    plt.close(ax.figure)
