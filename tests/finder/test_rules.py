import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrkit.finder import rules


def _fastai_valley_reference(losses):
    # fastai's published valley() loop (fastai/callback/schedule.py), verbatim in logic
    n = len(losses)
    max_start, max_end = 0, 0
    lds = [1] * n
    for i in range(1, n):
        for j in range(0, i):
            if (losses[i] < losses[j]) and (lds[i] < lds[j] + 1):
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end = i
                max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    return max_start + int(sections) + int(sections / 2)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-100, 100), min_size=3, max_size=60))
def test_longest_valley_matches_fastai(values):
    values = np.array(values)
    start, end = rules.longest_valley(values)
    section = (end - start) / 3
    assert start + int(section) + int(section / 2) == _fastai_valley_reference(list(values))


def test_steepest_matches_torch_lr_finder():
    # torch-lr-finder's own suggestion, run on the same curve through its real plot()
    torch_lr_finder = pytest.importorskip("torch_lr_finder")
    import torch

    from lrkit._optional import pyplot

    plt = pyplot()
    rng = np.random.default_rng(0)
    lrs = np.geomspace(1e-6, 1.0, 100)
    losses = 2.0 / (1.0 + (lrs / 1e-3) ** 0.8) + 0.01 * rng.normal(size=100)
    model = torch.nn.Linear(1, 1)
    finder = torch_lr_finder.LRFinder(model, torch.optim.SGD(model.parameters(), lr=0.1),
                                      torch.nn.MSELoss())
    finder.history = {"lr": list(lrs), "loss": list(losses)}
    ax, theirs = finder.plot(skip_start=10, skip_end=5, suggest_lr=True)
    plt.close(ax.figure)
    # same window (skip the first 10%, and their last 5 points)
    ours = rules.steepest(lrs[:-5], losses[:-5], skip_start=10 / 95)
    assert ours == pytest.approx(theirs)


def test_rules_read_a_clean_curve():
    lrs = np.geomspace(1e-5, 1.0, 81)
    losses = 1.0 / (1.0 + lrs / 1e-3)  # steepest in log-rate at lr = 1e-3
    assert rules.steepest(lrs, losses) == pytest.approx(1e-3, rel=0.15)
    assert rules.minimum_tenth(lrs, losses) == pytest.approx(0.1)
    assert 1e-4 < rules.valley(lrs, losses) < 1e-1
    assert rules.edge_fraction(0.9, 1 / 3) == pytest.approx(0.3)
    assert rules.edge_fraction(None) is None


def test_rules_ignore_points_after_the_blow_up():
    lrs = np.geomspace(1e-5, 1.0, 81)
    losses = 1.0 / (1.0 + lrs / 1e-3)
    losses[60:] = np.linspace(0.0, -50.0, 21)  # garbage after the onset must not count
    assert rules.minimum_tenth(lrs, losses, stop=60) == pytest.approx(lrs[59] / 10)
    assert rules.steepest(lrs, losses, stop=60) < lrs[60]


def test_rules_give_none_without_a_curve():
    lrs = np.geomspace(1e-5, 1.0, 20)
    rising = np.linspace(1.0, 2.0, 20)
    assert rules.steepest(lrs, rising) is None
    assert rules.steepest(lrs[:2], rising[:2]) is None
    assert rules.valley(lrs, rising) is None
    assert rules.lrkit_default(lrs, rising, None, None) is None


def test_lrkit_default_is_a_fraction_of_the_lowest_point_capped_by_the_edge():
    lrs = np.geomspace(1e-5, 1.0, 81)
    losses = (np.log10(lrs) + 2.0) ** 2  # lowest at lr = 1e-2
    assert rules.lowest_point(lrs, losses) == pytest.approx(1e-2)
    far_edge = rules.lrkit_default(lrs, losses, None, divergence_lr=0.9)
    assert far_edge == pytest.approx(rules.MINIMUM_FRACTION * 1e-2)
    near_edge = rules.lrkit_default(lrs, losses, None, divergence_lr=0.005)
    assert near_edge == pytest.approx(rules.EDGE_FRACTION * 0.005)
    # no divergence: only the last rate is known to be stable
    falling = 1.0 / (1.0 + lrs / 1e-3)
    assert rules.lrkit_default(lrs, falling, None, None) == pytest.approx(rules.NO_EDGE_FRACTION * 1.0)


def test_lowest_point_has_no_lag():
    # the moving average trails the curve; the zero-phase reading does not
    lrs = np.geomspace(1e-5, 1.0, 100)
    losses = (np.log10(lrs) + 2.5) ** 2
    assert rules.lowest_point(lrs, losses, beta=0.95) == pytest.approx(10**-2.5, rel=0.15)
    from lrkit.finder.smoothing import ema

    lagged = lrs[int(np.argmin(ema(losses, 0.95)))]
    assert lagged > 3 * 10**-2.5


def test_nan_cuts_the_curve():
    lrs = np.geomspace(1e-5, 1.0, 40)
    losses = 1.0 / (1.0 + lrs / 1e-3)
    losses[30] = np.nan
    assert rules.minimum_tenth(lrs, losses) == pytest.approx(lrs[29] / 10)
