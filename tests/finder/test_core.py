import dataclasses
import math

import numpy as np
import pytest

import lrkit
from lrkit.finder import RULES, RangeTestResult, analyze, range_test, sweep_rates


class NoisyQuadratic:
    """Gradient descent with gradient noise on 0.5 * sum(lam * x^2): edge at 2 / max(lam)."""

    def __init__(self, kappa=100.0, L=10.0, noise=1.0, seed=0, shift=0.0):
        self.rng = np.random.default_rng(seed)
        self.lam = np.logspace(-np.log10(kappa), 0, 20) * L
        self.x = self.rng.normal(size=20)
        self.noise = noise
        self.shift = shift
        self.calls = 0

    def __call__(self, lr):
        self.calls += 1
        loss = 0.5 * float(np.sum(self.lam * self.x**2)) + self.shift
        grad = self.lam * self.x + self.noise * np.sqrt(self.lam) * self.rng.normal(size=20)
        self.x = self.x - lr * grad
        return loss


def test_lazy_top_level_names():
    assert lrkit.range_test is range_test
    assert lrkit.RangeTestResult is RangeTestResult


def test_rates_are_geometric_from_start_to_end():
    lrs = sweep_rates(1e-6, 1.0, 7)
    np.testing.assert_allclose(lrs, 10.0 ** np.arange(-6, 1))


def test_quadratic_edge_and_suggestion():
    step = NoisyQuadratic(L=10.0)
    result = range_test(step)
    assert result.stop_reason == "diverged"
    assert 2.0 / 10.0 / 1.5 <= result.divergence_lr <= 2.0 / 10.0 * 1.5
    assert result.reliable
    low, high = result.band
    assert low <= result.suggestion <= high <= result.divergence_lr
    assert tuple(result.suggestions) == RULES == ("lrkit", "steepest", "valley", "minimum/10", "edge/3")
    assert result.suggestion == result.suggestions["lrkit"]
    # the sweep stopped soon after the blow-up
    assert step.calls == result.steps < 100
    assert result.lrs[-1] < 2.0 / 10.0 * 4


def test_negative_losses_give_the_same_answer_as_positive_ones():
    positive = range_test(NoisyQuadratic(seed=3))
    negative = range_test(NoisyQuadratic(seed=3, shift=-1000.0))
    assert (negative.losses < 0).any()
    assert negative.divergence_lr == pytest.approx(positive.divergence_lr, rel=1e-9)
    assert negative.suggestion == pytest.approx(positive.suggestion)


def test_nan_on_step_3_stops_at_once():
    calls = []

    def step(lr):
        calls.append(lr)
        return math.nan if len(calls) == 3 else 1.0 / len(calls)

    result = range_test(step, num=50)
    assert len(calls) == 3 and result.steps == 3
    assert result.stop_reason == "nonfinite"
    assert math.isnan(result.losses[-1])
    assert result.suggestion is None and "lower `start`" in result.note


def test_infinite_loss_stops_too():
    values = iter([3.0, 2.0, 1.0, 0.5] * 5 + [math.inf] + [0.1] * 100)
    result = range_test(lambda lr: next(values), num=60)
    assert result.steps == 21 and result.stop_reason == "nonfinite"
    assert result.divergence_lr == result.lrs[19]


def test_flat_curve_has_no_reliable_suggestion():
    rng = np.random.default_rng(0)
    result = range_test(lambda lr: 1.0 + 0.01 * rng.normal(), num=60)
    assert result.stop_reason == "end" and result.divergence_lr is None
    assert result.suggestion is None and result.band is None
    assert "never fell" in result.note
    assert "no reliable suggestion" in str(result)


def test_no_reliable_suggestion_means_no_lrkit_rate_anywhere():
    # an audit saw "no reliable suggestion" printed above a table whose lrkit row said 1e-07
    result = lrkit.range_test(lambda lr: 1.0 - lr, start=1e-7, end=1e-6, num=5)
    assert result.suggestion is None and result.note
    assert result.suggestions["lrkit"] is None
    assert result.to_dict()["suggestions"]["lrkit"] is None


def test_without_divergence_the_default_stays_below_the_last_rate():
    result = range_test(NoisyQuadratic(L=10.0), start=1e-6, end=0.05, num=60)
    assert result.stop_reason == "end" and result.divergence_lr is None
    assert result.suggestion is not None and result.suggestion <= 0.05 / 10 * 1.0001
    assert "never blew up" in result.note and "note:" in str(result)
    # the cap is a default, not a reading: the band reaches down to the shape-reading rules
    low, high = result.band
    shape = [result.suggestions[r] for r in ("steepest", "valley") if result.suggestions[r]]
    assert shape and low == pytest.approx(min([low, *shape])) and low <= min(shape)
    assert low <= result.suggestion <= high


def test_result_is_frozen_and_read_only():
    result = range_test(NoisyQuadratic())
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.suggestion = 1.0  # type: ignore[misc]
    with pytest.raises(ValueError):
        result.losses[0] = 0.0
    payload = result.to_dict()
    assert payload["suggestion"] == result.suggestion and len(payload["lrs"]) == result.steps


def test_analyze_reproduces_the_sweep():
    result = range_test(NoisyQuadratic(seed=5))
    again = analyze(result.lrs, result.losses, stop_reason=result.stop_reason,
                    onset=result.divergence_index, beta=result.settings["beta"])
    assert again == result



@pytest.mark.parametrize("seed", [1, 5, 9])
def test_analyze_of_a_bare_recorded_curve_finds_the_same_edge_and_pick(seed):
    """Audit case: analyze(lrs, losses) without onset said 'the loss never blew up' on a
    curve whose sweep had diverged, and suggested another rate."""
    result = range_test(NoisyQuadratic(seed=seed))
    assert result.divergence_lr is not None
    again = analyze(result.lrs, result.losses, beta=result.settings["beta"])
    assert (again.stop_reason, again.divergence_index) == (result.stop_reason,
                                                           result.divergence_index)
    assert again.divergence_lr == result.divergence_lr and again.suggestion == result.suggestion


@pytest.mark.parametrize("kwargs, error, message", [
    ({"lrs": [1e-3, 1e-2], "losses": [1.0]}, ValueError, "one loss per rate"),
    ({"lrs": [[1e-3, 1e-2]], "losses": [[1.0, 0.9]]}, ValueError, "must be 1-D"),
    ({"lrs": [1e-2, 1e-3], "losses": [1.0, 0.9]}, ValueError, "`lrs` must be finite, > 0 and increasing"),
    ({"lrs": [-1e-3, 1e-2], "losses": [1.0, 0.9]}, ValueError, "`lrs` must be finite, > 0"),
    ({"lrs": [1e-3, 1e-2], "losses": ["a", "b"]}, TypeError, "sequences of numbers"),
    ({"lrs": [1e-3, 1e-2], "losses": [1.0, 0.9], "onset": 2}, ValueError, r"`onset` must index a point .* onset=2"),
    ({"lrs": [1e-3, 1e-2], "losses": [1.0, 0.9], "onset": -1}, ValueError, "`onset` must be an integer >= 0"),
    ({"lrs": [1e-3, 1e-2], "losses": [1.0, 0.9], "stop_reason": "bogus"}, ValueError, "`stop_reason` must be one of"),
])
def test_analyze_names_bad_input(kwargs, error, message):
    with pytest.raises(error, match=message):
        analyze(**kwargs)

def test_keep_going_after_divergence():
    result = range_test(NoisyQuadratic(seed=1, L=0.1), start=1e-3, end=100.0, num=60,
                        stop_on_divergence=False)
    assert result.steps == 60 or result.stop_reason == "nonfinite"
    assert result.divergence_lr is not None


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"start": 0.0}, ValueError, "`start` must be > 0"),
        ({"start": 1.0, "end": 0.1}, ValueError, "`end` must be > start"),
        ({"num": 1}, ValueError, "`num` must be an integer >= 2"),
        ({"num": 2.5}, TypeError, "`num` must be an integer"),
        ({"beta": 1.5}, ValueError, "`beta` must be in"),
        ({"threshold": -1}, ValueError, "`threshold` must be > 0"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        range_test(lambda lr: 1.0, **kwargs)


def test_step_must_be_callable_and_return_a_scalar():
    with pytest.raises(TypeError, match="`step` must be callable"):
        range_test(3.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"scalar loss, but got a value of shape \(3,\)"):
        range_test(lambda lr: np.ones(3))
    with pytest.raises(TypeError, match="real number"):
        range_test(lambda lr: "loss")
    assert range_test(lambda lr: np.float32(1.0), num=10).steps == 10


def test_flat_curve_that_blows_up_falls_back_to_a_third_of_the_edge():
    rng = np.random.default_rng(1)
    lrs = sweep_rates(1e-6, 10.0, 80)
    losses = 1.0 + 0.1 * rng.normal(size=80)
    losses[70:] = 1.0 + np.geomspace(1.0, 1e5, 10)
    result = analyze(lrs, losses, stop_reason="diverged", onset=70)
    assert result.suggestion == pytest.approx(result.divergence_lr / 3)
    assert "hardly fell" in result.note


@pytest.mark.parametrize("scale", [1e-3, 1e-6, 1e-9, 1e-12])
def test_the_reading_does_not_change_when_the_loss_is_scaled_down(scale):
    """Audit case: below about 1e-9 an absolute floor took a falling curve for a flat one."""
    lrs = np.geomspace(1e-4, 10, 80)
    curve = np.array([2.0 / (1 + 30 * lr) if lr < 0.5 else 1e3 * lr for lr in lrs])
    reference = analyze(lrs, curve)
    scaled = analyze(lrs, curve * scale)
    assert scaled.note == reference.note == ""
    assert scaled.suggestion == pytest.approx(reference.suggestion, rel=1e-9)
    assert scaled.divergence_lr == pytest.approx(reference.divergence_lr, rel=1e-9)


# --- stop_on_divergence=False still reports the divergence -----------------------

def test_keep_going_still_says_diverged():
    x, h = np.array([3.0, -2.0]), np.array([1.0, 4.0])
    def step(lr):
        nonlocal x
        loss = 0.5 * float(np.sum(h * x * x))
        x = np.clip(x - lr * h * x, -1e30, 1e30)
        return loss
    r = range_test(step, start=1e-4, end=10.0, num=60, stop_on_divergence=False)
    assert r.steps == 60 and r.divergence_index is not None
    assert r.stop_reason == "diverged"
