"""The known-curvature quadratic: its Hessian is what it claims, and full-batch gradient
descent on it behaves as the theory says (edge at 2/L, best rate 2/(L + mu))."""

import numpy as np
import pytest

from lrkit.problems import make_quadratic, quadratic_hessian_eigenvalues, train
from lrkit.schedules import constant


def test_training_hessian_has_exactly_the_requested_eigenvalues():
    problem = make_quadratic(condition=1000.0, curvature=4.0, dim=8, batch_size=None)
    eigenvalues = quadratic_hessian_eigenvalues(problem)
    assert eigenvalues[0] == pytest.approx(4.0) and eigenvalues[-1] == pytest.approx(4e-3)
    x, _ = next(problem.batches(0))  # full batch: the whole training set
    hessian = (x.double().T @ x.double() / len(x)).numpy()
    np.testing.assert_allclose(np.linalg.eigvalsh(hessian)[::-1], eigenvalues, rtol=1e-5)


def test_gradient_descent_diverges_just_above_two_over_l_and_not_below():
    problem = make_quadratic(condition=10.0, noise=0.0, batch_size=None, steps=300)
    edge = 2 / quadratic_hessian_eigenvalues(problem)[0]
    below = train(problem, 0.95 * edge, schedule=constant())
    above = train(problem, 1.05 * edge, schedule=constant())
    assert below.losses[-1] < 1e-3 * below.losses[0]
    assert above.diverged or above.losses[-1] > 10 * above.losses[0]


def test_two_over_l_plus_mu_beats_smaller_and_larger_constant_rates():
    problem = make_quadratic(condition=10.0, noise=0.0, batch_size=None, steps=40)
    eigenvalues = quadratic_hessian_eigenvalues(problem)
    best = 2 / (eigenvalues[0] + eigenvalues[-1])
    final = {f: train(problem, f * best, schedule=constant()).losses[-1] for f in (0.6, 1.0, 1.08)}
    assert final[1.0] < final[0.6] and final[1.0] < final[1.08]


def test_mini_batches_and_names():
    assert make_quadratic().name == "quadratic-k100-b32"
    assert make_quadratic(condition=1, batch_size=None).name == "quadratic-k1-full"
    batch = next(make_quadratic(batch_size=16).batches(0))
    assert batch[0].shape == (16, 20)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"condition": 0.5}, r"`condition` must be in \[1.0, inf\)"),
        ({"curvature": -1.0}, r"`curvature` must be > 0"),
        ({"batch_size": 0}, r"`batch_size` must be a positive integer"),
        ({"dim": 30, "n_train": 10}, r"`n_train` must be an integer >= 30"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_quadratic(**kwargs)


def test_hessian_of_another_problem_is_a_type_error():
    from lrkit import problems

    with pytest.raises(TypeError, match="must come from make_quadratic"):
        quadratic_hessian_eigenvalues(problems.get("logistic"))
