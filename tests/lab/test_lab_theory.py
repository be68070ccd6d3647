"""The lab's experiments reproduce what theory says about gradient descent on quadratics."""

import math

import numpy as np
import pytest

from lrkit import lab
from lrkit.lab import objectives, optimizers, theory


def distances(q, optimizer, steps):
    t = lab.run(q, optimizer, steps=steps, record_path=True)
    return np.linalg.norm(t.xs - q.x_star, axis=1), t


@pytest.mark.parametrize("kappa,L,dim", [(100.0, 1.0, 10), (10.0, 3.0, 5), (1000.0, 0.5, 20)])
def test_gd_diverges_just_above_2_over_L_and_converges_just_below(kappa, L, dim):
    q = objectives.quadratic(kappa=kappa, dim=dim, L=L, seed=1)
    edge = theory.max_stable_lr(q.L)
    assert edge == pytest.approx(2 / L)

    below = lab.run(q, optimizers.GD(lr=0.99 * edge), steps=3000)
    assert not below.diverged
    assert below.gaps[-1] < 1e-6 * below.gaps[0]

    above = lab.run(q, optimizers.GD(lr=1.01 * edge), steps=3000)
    assert above.diverged
    assert above.diverged_at > 0  # blown up past BLOWUP times the start, then stopped
    finite = above.gaps[np.isfinite(above.gaps)]
    assert finite[-1] > 1e6 * finite[0]


def test_best_rate_of_a_fine_sweep_is_within_grid_spacing_of_2_over_L_plus_mu():
    q = objectives.quadratic(kappa=100.0, dim=10, seed=2)
    grid = np.geomspace(0.25 / q.L, 4.0 / q.L, 400)
    # 1500 steps: long enough for the finite-horizon optimum to sit within 0.2% of
    # 2/(L+mu), short enough for the best gap (~1e-26) to stay clear of rounding
    result = lab.sweep(q, "gd", lrs=grid, steps=1500)
    optimum = theory.optimal_lr(q.L, q.mu)
    assert result.theory["2/(L+mu)"] == pytest.approx(optimum)
    assert result.spacing == pytest.approx(grid[1] / grid[0])
    assert abs(math.log(result.best_lr / optimum)) <= math.log(result.spacing)
    # divergence begins at the first grid rate above 2/L
    assert result.max_stable_lr <= 2 / q.L < result.max_stable_lr * result.spacing
    assert all(d == (lr > 2 / q.L) for lr, d in zip(result.lrs, result.diverged, strict=True))
    # the zones are ordered: too low, good, too high; the best and 1/L are good
    zones = list(result.zones)
    assert zones == sorted(zones, key=["too low", "good", "too high"].index)
    lo, hi = result.good_range
    assert lo <= result.best_lr <= hi
    assert lo <= 1 / q.L
    assert hi < 2 / q.L


def window(rho, steps):
    """Steps (a, b) to measure a contraction rho over: long, but clear of rounding at ~1e-16."""
    if rho >= 1:
        return steps // 2, steps
    b = min(steps, int(math.log(1e-9) / math.log(rho)))
    return b // 2, b


@pytest.mark.parametrize("kappa,dim,rel", [(10.0, 2, 1e-9), (100.0, 2, 1e-9), (100.0, 10, 1e-6)])
def test_measured_contraction_matches_kappa_minus_1_over_kappa_plus_1(kappa, dim, rel):
    q = objectives.quadratic(kappa=kappa, dim=dim, seed=3)
    e, _ = distances(q, optimizers.GD(lr=theory.optimal_lr(q.L, q.mu)), steps=1000)
    a, b = window(theory.optimal_contraction(kappa), 1000)
    measured = (e[b] / e[a]) ** (1 / (b - a))
    assert measured == pytest.approx((kappa - 1) / (kappa + 1), rel=rel)
    # and not the rate of the safe choice 1/L, 1 - 1/kappa
    assert abs(measured - (1 - 1 / kappa)) > 1e-3


@pytest.mark.parametrize("scale", [0.3, 1.0, 1.5, 1.95, 2.02])
def test_measured_contraction_matches_gd_contraction_at_any_rate(scale):
    q = objectives.quadratic(kappa=20.0, dim=2, seed=4)  # only the two extreme curvatures
    lr = scale / q.L
    rho = theory.gd_contraction(lr, q.L, q.mu)
    e, _ = distances(q, optimizers.GD(lr=lr), steps=400)
    a, b = window(rho, 400)
    measured = (e[b] / e[a]) ** (1 / (b - a))
    assert measured == pytest.approx(rho, rel=1e-6)


@pytest.mark.parametrize("kappa", [100.0, 1000.0])
def test_heavy_ball_with_tuned_parameters_reaches_sqrt_kappa_rate(kappa):
    q = objectives.quadratic(kappa=kappa, dim=10, seed=5)
    lr, momentum = theory.heavy_ball_parameters(q.L, q.mu)
    assert lr == pytest.approx(4 / (math.sqrt(q.L) + math.sqrt(q.mu)) ** 2)
    assert momentum == pytest.approx(((math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1)) ** 2)
    target = (math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1)
    assert theory.heavy_ball_optimal_contraction(kappa) == pytest.approx(target)
    assert theory.heavy_ball_contraction(lr, momentum, q.eigenvalues) == pytest.approx(
        target, rel=1e-6)

    _, b = window(target, 10_000)
    e, _ = distances(q, optimizers.HeavyBall(lr=lr, momentum=momentum), steps=b)
    # at the tuned point the extreme curvatures have a double eigenvalue, so the error
    # decays like t * rho^t; dividing out t leaves rho
    a = b // 4
    measured = ((e[b] / b) / (e[a] / a)) ** (1 / (b - a))
    assert measured == pytest.approx(target, rel=2e-3)
    assert measured < theory.optimal_contraction(kappa) - 0.1 * (1 - target)


def test_sweep_of_heavy_ball_diverges_past_its_own_threshold():
    q = objectives.quadratic(kappa=10.0, dim=4, seed=6)
    r = lab.sweep(q, "heavy-ball", momentum=0.5, lrs=np.geomspace(0.5, 4.0, 120), steps=1500)
    edge = r.theory["2(1+m)/L"]
    assert edge == pytest.approx(3.0)
    assert r.max_stable_lr <= edge < r.max_stable_lr * r.spacing


def test_noise_floor_of_constant_rate_sgd_matches_measurement():
    q = objectives.noisy_quadratic(kappa=10.0, dim=10, sigma=0.1, seed=7)
    lr = 0.5 / q.L
    t = lab.run(q, optimizers.GD(lr=np.full(64, lr)), steps=400, seed=1)
    measured = t.gaps[200:].mean()  # mean over 64 chains and 200 stationary steps
    expected = theory.noise_floor(lr, q.eigenvalues, q.noise_std)
    assert measured == pytest.approx(expected, rel=0.1)
    assert theory.noise_floor(2.5 / q.L, q.eigenvalues, 0.1) == math.inf


def test_theory_helpers_validate_and_agree():
    assert theory.quadratic_rates(1.0, 0.01) == {
        "1/L": 1.0, "2/(L+mu)": pytest.approx(2 / 1.01), "2/L": 2.0}
    assert theory.gd_contraction(1.0, 1.0, 0.1) == pytest.approx(0.9)
    assert theory.steps_to_reach(1e-3, 0.9) == pytest.approx(math.log(1e-3) / math.log(0.9))
    assert theory.steps_to_reach(1e-3, 1.2) == math.inf
    # kappa = 1 at 2/(L+mu) = 1/L: the error vanishes in one step
    assert theory.steps_to_reach(1e-3, theory.optimal_contraction(1.0)) == 1.0
    with pytest.raises(ValueError, match="`contraction` must be >= 0"):
        theory.steps_to_reach(1e-3, -0.5)
    with pytest.raises(ValueError, match="`eigenvalues` must be positive finite"):
        theory.noise_floor(0.1, np.array([1.0, -2.0]), 1.0)
    with pytest.raises(ValueError, match="`lr` must be positive finite rates"):
        theory.gd_gap(-0.1, 10, np.array([1.0]), np.array([1.0]))
    with pytest.raises(ValueError, match="mu <= L"):
        theory.optimal_lr(1.0, 2.0)
    with pytest.raises(ValueError, match="`L` must be > 0, but got L=0"):
        theory.max_stable_lr(0)
    with pytest.raises(TypeError, match="`lr` must be a real number"):
        theory.gd_contraction("big", 1.0, 0.1)


def test_closed_form_gap_equals_the_run_and_locates_the_finite_horizon_optimum():
    q = objectives.quadratic(kappa=100.0, dim=10, seed=8)
    error = q.Q.T @ (q.x0 - q.x_star)
    lrs = np.array([0.1, 1.0, 1.9, 1.98])
    t = lab.run(q, optimizers.GD(lr=lrs), steps=300)
    np.testing.assert_allclose(t.gaps[-1], theory.gd_gap(lrs, 300, q.eigenvalues, error),
                               rtol=1e-8)
    dense = np.linspace(1.5, 2.0, 50_001)
    best = [dense[np.argmin(theory.gd_gap(dense, steps, q.eigenvalues, error))]
            for steps in (100, 300, 1000)]
    # below 2/(L+mu), and closer to it the longer the run
    optimum = theory.optimal_lr(q.L, q.mu)
    assert best[0] < best[1] < best[2] < optimum
    assert optimum - best[2] < 0.01 * optimum
