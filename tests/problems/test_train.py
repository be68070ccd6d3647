"""The canonical training run: determinism, agreement with a plain torch loop driven by
torch's own LambdaLR, the default shape, divergence handling and argument errors."""

import math

import numpy as np
import pytest
import torch

from lrkit import problems
from lrkit.problems import default_schedule, evaluate_lr, train
from lrkit.schedules import constant, cosine, linear, warmup

from .helpers import tiny_regression


def test_same_problem_rate_and_seed_give_the_same_run():
    a = train("digits-mlp", 3e-3, seed=1, steps=25)
    b = train("digits-mlp", 3e-3, seed=1, steps=25)
    assert a == b
    assert np.array_equal(a.losses, b.losses) and np.array_equal(a.lrs, b.lrs)
    c = train("digits-mlp", 3e-3, seed=2, steps=25)
    assert not np.array_equal(a.losses, c.losses)


def _plain_run(problem, lr, seed, steps, update):
    """A hand-written run under torch's own LambdaLR at lrkit's default shape, ``update(model,
    optimizer, batch) -> loss`` making each step: (rates, losses, held-out loss)."""
    shape = default_schedule(steps)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = problem.make_model(seed)
        optimizer = problem.make_optimizer(model.parameters(), lr)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: shape(t))
        batches = problem.batches(seed)
        lrs, losses = [], []
        for _ in range(steps):
            lrs.append(optimizer.param_groups[0]["lr"])
            losses.append(update(model, optimizer, next(batches)))
            scheduler.step()
        return lrs, losses, problem.evaluate(model)


@pytest.mark.parametrize("name", ["digits-mlp", "quadratic"])
def test_train_matches_a_plain_torch_loop_with_lambda_lr(name):
    problem = problems.get(name)
    steps, lr, seed = 30, 2e-3 if name == "digits-mlp" else 0.05, 3
    result = train(problem, lr, seed=seed, steps=steps)

    def update(model, optimizer, batch):
        optimizer.zero_grad()
        loss = problem.loss_fn(model, batch)
        loss.backward()
        optimizer.step()
        return loss.item()

    lrs, losses, held_out = _plain_run(problem, lr, seed, steps, update)
    np.testing.assert_allclose(result.lrs, lrs, rtol=1e-12)
    np.testing.assert_allclose(result.losses, losses, rtol=1e-6)
    assert result.held_out == pytest.approx(held_out, rel=1e-6)


def test_an_optimizer_that_steps_with_a_closure_trains_as_a_plain_lbfgs_loop():
    # LBFGS.step() without a closure is a TypeError inside torch; train hands it one
    problem = tiny_regression(lbfgs=True)
    steps, lr, seed = 12, 0.5, 1
    result = train(problem, lr, seed=seed, steps=steps)

    def update(model, optimizer, batch):
        def closure():
            optimizer.zero_grad()
            loss = problem.loss_fn(model, batch)
            loss.backward()
            return loss

        return float(optimizer.step(closure).detach())

    _, _, held_out = _plain_run(problem, lr, seed, steps, update)
    assert not result.diverged
    assert result.held_out == pytest.approx(held_out, rel=1e-6)
    assert result.held_out < 0.5 * train(problem, lr, seed=seed, steps=1).held_out


def test_a_closure_optimizer_makes_no_forward_pass_its_closure_does_not_make():
    import dataclasses

    calls = []
    problem = tiny_regression()
    counted = dataclasses.replace(
        problem, loss_fn=lambda model, batch: calls.append(1) or problem.loss_fn(model, batch),
        make_optimizer=lambda params, lr: torch.optim.LBFGS(params, lr=lr, max_iter=1))
    result = train(counted, 0.5, steps=10)
    assert len(calls) == 10  # one closure call a step at max_iter=1 (it had been 20)
    assert np.isfinite(result.losses).all()


def test_default_schedule_is_five_percent_linear_warmup_then_cosine_to_zero():
    s = default_schedule(200)
    assert s == warmup(10, cosine(190))
    t = np.arange(200)
    expected = np.where(t < 10, (t + 1) / 11, 0.5 * (1 + np.cos(np.pi * (t - 10) / 190)))
    np.testing.assert_allclose(s(t), expected, atol=1e-12)
    assert s(200) == 0.0
    assert default_schedule(1)(0) > 0
    assert default_schedule(10) == warmup(1, cosine(9))


def test_recorded_rates_follow_the_schedule_and_groups_keep_their_ratio():
    kept = []
    problem = tiny_regression(groups=True, keep=kept)
    shape = linear(1.0, 0.1, 20)
    result = train(problem, 0.2, schedule=shape)
    np.testing.assert_allclose(result.lrs, 0.2 * shape(np.arange(20)))
    last = [group["lr"] for group in kept[0].param_groups]
    assert last == pytest.approx([0.2 * shape(19), 0.02 * shape(19)])


def test_schedule_text_is_parsed():
    a = train(tiny_regression(), 0.1, schedule="warmup(2, cosine(18))")
    b = train(tiny_regression(), 0.1, schedule=warmup(2, cosine(18)))
    assert a == b and a.schedule == "warmup(2, cosine(18))"


def test_a_diverging_run_stops_early_and_reports_inf():
    result = train("quadratic", 1e3, schedule=constant())
    assert result.diverged and result.held_out == math.inf
    assert result.diverged_at is not None and result.diverged_at < result.steps
    assert len(result.losses) == result.diverged_at + 1
    assert not math.isfinite(result.losses[-1]) and np.isfinite(result.losses[:-1]).all()


def test_nan_on_step_three_stops_there():
    result = train(tiny_regression(nan_at_call=3), 0.1, schedule=constant())
    assert result.diverged_at == 3 and result.held_out == math.inf
    assert len(result.losses) == 4 and math.isnan(result.losses[3])


def test_non_finite_held_out_loss_counts_as_diverged():
    result = train(tiny_regression(evaluate_nan=True), 0.1)
    assert result.diverged and result.held_out == math.inf and result.diverged_at == 20


def test_negative_losses_are_fine():
    base = tiny_regression()
    shifted = problems.Problem(
        **{**base.__dict__, "loss_fn": lambda m, b: base.loss_fn(m, b) - 10.0}
    )
    result = train(shifted, 0.1)
    assert not result.diverged and (result.losses < 0).all()


def test_loss_fn_must_return_a_scalar_tensor():
    base = tiny_regression()
    vector = problems.Problem(**{**base.__dict__, "loss_fn": lambda m, b: (m(b[0]) - b[1]).pow(2)})
    with pytest.raises(
        TypeError, match=r"`loss_fn` must return a scalar tensor, but got .*\(16, 1\)"
    ):
        train(vector, 0.1)
    number = problems.Problem(**{**base.__dict__, "loss_fn": lambda m, b: 1.0})
    with pytest.raises(TypeError, match="'float'"):
        train(number, 0.1)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"lr": 0.0}, ValueError, r"`lr` must be > 0, but got lr=0.0"),
        ({"lr": "big"}, TypeError, r"`lr` must be a real number"),
        ({"lr": math.nan}, ValueError, r"`lr` must be finite"),
        ({"lr": 0.1, "seed": -1}, ValueError, r"`seed` must be an integer >= 0"),
        ({"lr": 0.1, "steps": 0}, ValueError, r"`steps` must be a positive integer"),
        ({"lr": 0.1, "schedule": 3}, TypeError, r"`schedule` must be None"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        train(tiny_regression(), **kwargs)


def test_training_leaves_the_callers_random_state_alone():
    torch.manual_seed(11)
    expected = torch.rand(4)
    torch.manual_seed(11)
    train("digits-mlp", 1e-3, steps=3)
    assert torch.equal(torch.rand(4), expected)


def test_evaluate_lr_is_the_mean_over_seeds_and_inf_when_any_seed_diverges():
    problem = tiny_regression()
    runs = [train(problem, 0.05, seed=s).held_out for s in (0, 1, 2)]
    assert evaluate_lr(problem, 0.05, seeds=(0, 1, 2)) == pytest.approx(np.mean(runs))
    flaky = tiny_regression(nan_at_call=5, nan_seed=1)
    assert evaluate_lr(flaky, 0.05, seeds=(0, 1)) == math.inf
    assert evaluate_lr(flaky, 0.05, seeds=(0, 2)) < math.inf
    with pytest.raises(TypeError, match="`seeds` must be a non-empty sequence"):
        evaluate_lr(problem, 0.05, seeds=())


def test_finite_batches_lists_and_generators_are_cycled():
    base = tiny_regression()
    three = [next(base.batches(0)) for _ in range(3)]

    def finite_generator(seed):
        yield from three

    reference = train(problems.Problem(**{**base.__dict__, "batches": lambda seed: three}), 0.1)
    cycled = train(problems.Problem(**{**base.__dict__, "batches": finite_generator}), 0.1)
    assert not reference.diverged and reference == cycled
    empty = problems.Problem(**{**base.__dict__, "batches": lambda seed: []})
    with pytest.raises(ValueError, match="`batches` must yield at least one batch"):
        train(empty, 0.1)
