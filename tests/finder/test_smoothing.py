import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrkit.finder.smoothing import ema


def _reference(values, beta):
    # the closed form: a weighted mean with weights beta**(i - j), normalised
    out = []
    for i in range(len(values)):
        weights = np.array([beta ** (i - j) for j in range(i + 1)])
        out.append(float(np.dot(weights, values[: i + 1]) / weights.sum()))
    return np.array(out)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=40), st.floats(0.0, 0.99))
def test_ema_is_the_normalised_weighted_mean(values, beta):
    np.testing.assert_allclose(ema(values, beta), _reference(values, beta), rtol=1e-9, atol=1e-6)


def test_no_bias_towards_zero_at_the_start():
    # a constant curve stays constant, negative or positive: no bend from a zero start
    assert ema([-3.0] * 5, beta=0.98).tolist() == pytest.approx([-3.0] * 5)
    assert ema([7.0, 7.0], beta=0.9)[0] == 7.0


def test_nan_propagates_from_where_it_appears():
    out = ema([1.0, 2.0, float("nan"), 3.0], beta=0.5)
    assert np.isfinite(out[:2]).all() and np.isnan(out[2:]).all()


def test_bad_beta():
    with pytest.raises(ValueError, match="`beta` must be in"):
        ema([1.0], beta=1.0)


def test_zero_phase_keeps_a_symmetric_dip_in_place():
    from lrkit.finder.smoothing import zero_phase

    x = np.linspace(-3, 3, 41) ** 2 + 5.0
    for beta in (0.5, 0.9, 0.95):
        assert int(np.argmin(zero_phase(x, beta))) == 20
        assert int(np.argmin(ema(x, beta))) > 20  # the moving average lags behind
    rng = np.random.default_rng(0)
    noisy = x + 0.3 * rng.normal(size=41)
    assert abs(int(np.argmin(zero_phase(noisy, 0.9))) - 20) <= 3
