"""Objectives: exact gradients, batched evaluation, known minima, the set noise."""

import numpy as np
import pytest

from lrkit.lab import objectives


def all_objectives():
    return [
        objectives.quadratic(kappa=50.0, dim=6, L=2.0, seed=1),
        objectives.noisy_quadratic(kappa=10.0, dim=4, sigma=0.3, seed=2),
        objectives.rosenbrock(),
        objectives.beale(),
        objectives.saddle(),
        objectives.logistic(lam=0.05),
    ]


@pytest.fixture(scope="module")
def objs():
    return all_objectives()


def test_gradients_match_central_differences(objs):
    rng = np.random.default_rng(0)
    for obj in objs:
        x = obj.x_star + 0.5 * rng.standard_normal(obj.dim)
        h = 1e-6
        numeric = np.array([
            (obj.loss(x + h * e) - obj.loss(x - h * e)) / (2 * h) for e in np.eye(obj.dim)
        ])
        np.testing.assert_allclose(obj.grad(x), numeric, rtol=1e-5, atol=1e-6,
                                   err_msg=obj.name)


def test_batched_evaluation_equals_row_by_row(objs):
    rng = np.random.default_rng(1)
    for obj in objs:
        xs = obj.x_star + rng.standard_normal((5, obj.dim))
        losses, grads = obj.loss(xs), obj.grad(xs)
        assert losses.shape == (5,) and grads.shape == (5, obj.dim)
        for i in range(5):
            assert losses[i] == pytest.approx(float(obj.loss(xs[i])), rel=1e-12)
            np.testing.assert_allclose(grads[i], obj.grad(xs[i]), rtol=1e-12, atol=1e-15)


def test_the_known_minimum_is_a_minimum(objs):
    rng = np.random.default_rng(2)
    for obj in objs:
        assert float(obj.loss(obj.x_star)) == pytest.approx(obj.f_star, abs=1e-12)
        assert np.linalg.norm(obj.grad(obj.x_star)) < 1e-9, obj.name
        nearby = obj.x_star + 1e-2 * rng.standard_normal((50, obj.dim))
        assert np.all(obj.loss(nearby) >= obj.f_star - 1e-15), obj.name
        assert float(obj.loss(obj.x0)) > obj.f_star


def test_quadratic_has_the_asked_spectrum_and_start():
    q = objectives.quadratic(kappa=100.0, dim=10, L=4.0, seed=3)
    eig = np.linalg.eigvalsh(q.H)
    np.testing.assert_allclose(eig, q.eigenvalues, rtol=1e-10)
    assert (q.L, q.mu, q.kappa) == (4.0, 0.04, 100.0)
    assert eig.max() / eig.min() == pytest.approx(100.0)
    # the start is at distance 1 from the minimum along every eigenvector
    np.testing.assert_allclose(np.abs(q.Q.T @ (q.x0 - q.x_star)), 1.0)
    other = objectives.quadratic(kappa=100.0, dim=10, L=4.0, seed=4)
    assert not np.allclose(q.x_star, other.x_star)


def test_noisy_quadratic_gradients_have_the_set_variance():
    q = objectives.noisy_quadratic(kappa=10.0, dim=3, sigma=0.5, seed=5)
    rng = np.random.default_rng(6)
    x = np.tile(q.x0, (20000, 1))
    noise = q.sample_grad(x, rng) - q.grad(x)
    assert q.stochastic
    np.testing.assert_allclose(noise.mean(axis=0), 0.0, atol=0.02)
    np.testing.assert_allclose(noise.std(axis=0), 0.5, rtol=0.03)
    assert not objectives.quadratic().stochastic
    assert not objectives.noisy_quadratic(sigma=0.0).stochastic


def test_logistic_minimum_matches_scikit_learn():
    sklearn_linear = pytest.importorskip("sklearn.linear_model")
    obj = objectives.logistic(lam=0.05)
    n = len(obj.y)
    # sklearn minimises 1/2 |w|^2 + C sum_i logloss_i, i.e. ours divided by lam with C = 1/(n lam)
    model = sklearn_linear.LogisticRegression(C=1 / (n * obj.lam), fit_intercept=False,
                                              tol=1e-12, max_iter=10_000)
    model.fit(obj.X, obj.y)
    np.testing.assert_allclose(obj.x_star, model.coef_[0], rtol=1e-5, atol=1e-6)
    # L bounds the curvature everywhere: the Hessian at the minimum is below it, above mu
    p = 1 / (1 + np.exp(-obj.X @ obj.x_star))
    hessian = (obj.X.T * (p * (1 - p))) @ obj.X / n + obj.lam * np.eye(obj.dim)
    eig = np.linalg.eigvalsh(hessian)
    assert obj.mu <= eig.min() and eig.max() <= obj.L


def test_logistic_minibatch_gradients_average_to_the_full_gradient():
    obj = objectives.logistic(batch_size=64)
    rng = np.random.default_rng(7)
    x = obj.x0 + 0.1
    samples = np.array([obj.sample_grad(x, rng) for _ in range(3000)])
    standard_error = samples.std(axis=0) / np.sqrt(len(samples))
    assert np.all(np.abs(samples.mean(axis=0) - obj.grad(x)) < 5 * standard_error + 1e-12)
    assert np.all(samples.std(axis=0)[:-1] > 0)  # the batches really differ
    assert obj.stochastic


def test_make_builds_by_name_and_rejects_options_that_do_not_apply():
    assert objectives.names() == ["quadratic", "noisy-quadratic", "rosenbrock", "beale",
                                  "saddle", "logistic"]
    assert objectives.make("quadratic", kappa=10, dim=3).kappa == 10
    assert "kappa" in objectives.options("quadratic")
    with pytest.raises(ValueError, match="`kappa` does not apply to objective 'rosenbrock'"):
        objectives.make("rosenbrock", kappa=10)
    with pytest.raises(ValueError, match="`objective` must be one of"):
        objectives.make("himmelblau")


@pytest.mark.parametrize("kwargs,match", [
    ({"kappa": 0.5}, "`kappa` must be >= 1"),
    ({"kappa": -1}, "`kappa` must be > 0"),
    ({"kappa": 1e14}, "`kappa` must be <= 1e\\+12"),
    ({"dim": 0}, "`dim` must be a positive integer"),
    ({"dim": 1, "kappa": 10}, "`dim` must be >= 2"),
    ({"L": 0}, "`L` must be > 0"),
    ({"dim": 2.5}, "`dim` must be an integer"),
])
def test_quadratic_validates_its_arguments(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        objectives.quadratic(**kwargs)


def test_noisy_quadratic_and_logistic_validate():
    with pytest.raises(ValueError, match="`sigma` must be >= 0, but got sigma=-1"):
        objectives.noisy_quadratic(sigma=-1)
    with pytest.raises(ValueError, match="`batch_size` must be at most"):
        objectives.logistic(batch_size=10_000)
