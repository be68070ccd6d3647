"""The step back after a blow-up, from how fast the loss grew."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrkit.auto.backoff import backoff_factor


def _gradient_descent_blow_up(lr, curvature, *, floor=0.5, settle=10, steps=8, noise=0.0, seed=0):
    """Losses of gradient descent on a stiff direction at a rate above its edge, over a
    floor that the other directions keep (with optional noise on it)."""
    rng = np.random.default_rng(seed)
    losses = list(floor + noise * rng.standard_normal(settle))
    x = 1e-3
    for _ in range(steps):
        losses.append(floor + noise * rng.standard_normal() + x * x)
        x *= abs(1 - lr * curvature)
    return losses


@pytest.mark.parametrize("lr", [0.25, 0.3, 0.35, 0.45])
def test_the_step_back_lands_on_the_edge_of_gradient_descent(lr):
    # curvature 10: the edge is 0.2, so the exact factor is 0.2 / lr (within the clip)
    factor = backoff_factor(_gradient_descent_blow_up(lr, 10.0))
    assert factor == pytest.approx(min(0.75, max(0.25, 0.2 / lr)), rel=0.02)


def test_far_above_the_edge_steps_back_at_most_to_the_lowest_factor():
    assert backoff_factor(_gradient_descent_blow_up(3.0, 10.0)) == 0.25


def test_just_above_the_edge_steps_back_gently_never_past_the_highest_factor():
    assert backoff_factor(_gradient_descent_blow_up(0.21, 10.0, steps=30)) == 0.75


def test_noise_on_the_floor_does_not_fool_it():
    # the growth is still read once the blow-up stands clear of the noise
    factor = backoff_factor(_gradient_descent_blow_up(0.3, 10.0, noise=0.01, steps=14))
    assert 0.5 < factor < 0.75


@pytest.mark.parametrize("losses", [
    [1.0, 0.9, 0.8, 50.0],                           # a sudden jump: nothing to measure
    [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 40.0],  # falling, then one spike
    [1.0, 0.9, 1.0, 0.9, 1.0, 0.9, 1.0, 0.9, 1.1],   # noise
    [0.5, 0.6, 0.7, float("nan"), 0.9, 2.0, 5.0],    # a nan within the rise
    [0.5, 0.6, 0.7, 0.8, 1.5, 3.0, float("inf")],    # not finite at the end
    [],
    [float("nan")] * 10,
])
def test_without_a_clean_geometric_rise_it_halves(losses):
    assert backoff_factor(losses) == 0.5


def test_the_answer_does_not_depend_on_where_zero_is_or_on_units():
    losses = _gradient_descent_blow_up(0.3, 10.0)
    factor = backoff_factor(losses)
    for offset, unit in ((-3.0, 1.0), (0.0, 1e-6), (7.0, 1e3)):
        assert backoff_factor([offset + unit * v for v in losses]) == pytest.approx(factor)


def test_its_own_default_and_clip_are_used():
    losses = _gradient_descent_blow_up(3.0, 10.0)
    assert backoff_factor(losses, lowest=0.01) == pytest.approx(2 / (1 + abs(1 - 30)), rel=0.02)
    assert backoff_factor([1.0, 50.0], default=0.3) == 0.3


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6) | st.sampled_from([math.nan, math.inf]), max_size=40))
def test_it_always_steps_back_within_its_bounds(losses):
    factor = backoff_factor(losses)
    assert factor == 0.5 or 0.25 <= factor <= 0.75
    assert math.isfinite(factor)
