"""Contract every built-in problem must meet: seeded initialisation and data order, a
held-out evaluation that leaves training state alone, and learning at the default rate."""

import random

import numpy as np
import pytest
import torch

from lrkit import problems

NAMES = problems.names()


@pytest.fixture(scope="module", params=NAMES)
def problem(request):
    return problems.get(request.param)


def _params(model):
    return [p.detach().clone() for p in model.parameters()]


def test_initialisation_depends_only_on_the_seed(problem):
    a, b, c = problem.make_model(0), problem.make_model(0), problem.make_model(1)
    assert all(torch.equal(x, y) for x, y in zip(_params(a), _params(b), strict=True))
    assert not all(torch.equal(x, y) for x, y in zip(_params(a), _params(c), strict=True))


def test_batches_are_endless_and_their_order_depends_only_on_the_seed(problem):
    first = [next(problem.batches(0)) for _ in range(1)][0]
    again = next(problem.batches(0))
    other = next(problem.batches(1))
    for x, y in zip(first, again, strict=True):
        assert torch.equal(x, y)
    assert not all(torch.equal(x, y) for x, y in zip(first, other, strict=True))
    iterator = problem.batches(2)
    for _ in range(100):  # more than one pass over the smaller datasets
        batch = next(iterator)
    assert len(batch[0]) == len(first[0])


def test_building_and_drawing_leave_the_global_generators_alone(problem):
    torch.manual_seed(123)
    random.seed(5)
    np.random.seed(7)
    expected = (torch.rand(3), random.random(), np.random.rand())
    torch.manual_seed(123)
    random.seed(5)
    np.random.seed(7)
    model = problem.make_model(3)
    batches = problem.batches(3)
    next(batches)
    problem.evaluate(model)
    assert torch.equal(torch.rand(3), expected[0])
    assert random.random() == expected[1]
    assert np.random.rand() == expected[2]


def test_held_out_evaluation_does_not_touch_training_state(problem):
    model = problem.make_model(0)
    loss = problem.loss_fn(model, next(problem.batches(0)))
    loss.backward()
    grads = [p.grad.clone() for p in model.parameters()]
    params = _params(model)
    model.train()
    first = problem.evaluate(model)
    assert model.training
    assert all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), grads, strict=True))
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), params, strict=True))
    model.eval()
    assert problem.evaluate(model) == first
    assert not model.training


def test_loss_is_a_finite_scalar_tensor(problem):
    loss = problem.loss_fn(problem.make_model(0), next(problem.batches(0)))
    assert isinstance(loss, torch.Tensor) and loss.dim() == 0 and torch.isfinite(loss)
    assert loss.requires_grad


def test_training_at_the_default_rate_improves_on_the_initial_loss(problem):
    initial = problem.evaluate(problem.make_model(0))
    result = problems.train(problem, problem.default_lr, steps=60, schedule=lambda step: 1.0)
    assert not result.diverged
    assert result.held_out < initial
    assert len(result.losses) == 60 and np.isfinite(result.losses).all()


def test_problem_pickles_for_worker_processes(problem):
    import pickle

    copy = pickle.loads(pickle.dumps(problem))
    assert copy.name == problem.name
    model = copy.make_model(0)
    assert copy.evaluate(model) == problem.evaluate(problem.make_model(0))
