"""Each numpy optimizer of the lab matches its torch.optim counterpart step for step.

Two ways of driving both sides from the same start:

* closed loop: each side computes the gradient at its own iterate, so any difference in the
  update rule compounds over the 200 steps (on a quadratic, where rounding is not
  amplified);
* same gradients: both sides get the gradient at the lab's iterate, which isolates the
  update rule on a non-convex problem where adaptive methods would otherwise amplify
  last-bit rounding differences (a gradient coordinate near zero is known only to 1e-16
  absolute, and RMSProp/Adam divide it by its own size).
"""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from lrkit.lab import objectives, optimizers  # noqa: E402

STEPS = 200


def warmup_cosine(step: int) -> float:
    """A schedule with a rising and a falling part, as a plain function."""
    if step < 20:
        return (step + 1) / 20
    return 0.5 * (1 + math.cos(math.pi * min(step - 20, 180) / 180))


class Cauchy(objectives.Objective):
    """A random non-convex objective: sum_i log(1 + (a_i . x - b_i)^2), plus x^2/200."""

    def __init__(self, seed: int, dim: int = 6, n: int = 12) -> None:
        rng = np.random.default_rng(seed)
        self.A = rng.standard_normal((n, dim))
        self.b = rng.standard_normal(n)
        super().__init__(rng.standard_normal(dim) * 2, np.zeros(dim), 0.0)

    def loss(self, x):
        r = x @ self.A.T - self.b
        return np.sum(np.log1p(r**2), axis=-1) + np.sum(x**2, axis=-1) / 200

    def grad(self, x):
        r = x @ self.A.T - self.b
        return (2 * r / (1 + r**2)) @ self.A + x / 100


def random_problems():
    return [
        objectives.quadratic(kappa=30.0, dim=8, L=2.0, seed=11),
        Cauchy(seed=5),
    ]


# name, torch class, torch kwargs, lab kwargs, rate
CASES = [
    ("gd", torch.optim.SGD, {}, {}, 0.05),
    ("heavy-ball", torch.optim.SGD, {"momentum": 0.9}, {"momentum": 0.9}, 0.02),
    ("nesterov", torch.optim.SGD, {"momentum": 0.8, "nesterov": True}, {"momentum": 0.8}, 0.02),
    ("adagrad", torch.optim.Adagrad, {}, {}, 0.1),
    ("rmsprop", torch.optim.RMSprop, {}, {}, 0.01),
    ("rmsprop", torch.optim.RMSprop, {"alpha": 0.9, "momentum": 0.5},
     {"alpha": 0.9, "momentum": 0.5}, 0.005),
    ("adam", torch.optim.Adam, {"betas": (0.8, 0.99)}, {"beta1": 0.8, "beta2": 0.99}, 0.05),
    ("adamw", torch.optim.AdamW, {}, {}, 0.05),
    # a large eps pins where it goes (outside the root, after bias correction): at the
    # default 1e-8..1e-10 moving it changes nothing measurable
    ("adagrad", torch.optim.Adagrad, {"eps": 1e-2}, {"eps": 1e-2}, 0.1),
    ("rmsprop", torch.optim.RMSprop, {"eps": 1e-2}, {"eps": 1e-2}, 0.01),
    ("adam", torch.optim.Adam, {"eps": 1e-2}, {"eps": 1e-2}, 0.05),
]


def run_both(problem, name, torch_cls, torch_kwargs, lab_kwargs, lr, weight_decay, schedule,
             closed_loop):
    if weight_decay is not None:
        torch_kwargs = {**torch_kwargs, "weight_decay": weight_decay}
        lab_kwargs = {**lab_kwargs, "weight_decay": weight_decay}
    param = torch.nn.Parameter(torch.tensor(problem.x0, dtype=torch.float64))
    opt = torch_cls([param], lr=lr, **torch_kwargs)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule) if schedule else None

    lab_opt = optimizers.make(name, lr, schedule=schedule, **lab_kwargs)
    x = problem.x0.copy()
    state = lab_opt.init(x)
    for step in range(STEPS):
        grad = problem.grad(x)
        x, state = lab_opt.update(x, grad, state)

        if closed_loop:
            grad = problem.grad(param.detach().numpy())
        param.grad = torch.tensor(grad, dtype=torch.float64)
        opt.step()
        if sched:
            sched.step()

        ours, theirs = x, param.detach().numpy()
        assert np.all(np.isfinite(ours))
        err = np.linalg.norm(ours - theirs) / max(np.linalg.norm(theirs), 1e-300)
        assert err <= 1e-6, f"{name}: step {step}: relative difference {err:.3g}"
    assert np.linalg.norm(x - problem.x0) > 1e-3, "the optimizer should have moved"


@pytest.mark.parametrize("schedule", [None, warmup_cosine], ids=["constant", "schedule"])
@pytest.mark.parametrize("weight_decay", [None, 0.05], ids=["default-decay", "decay"])
@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_matches_torch_step_for_step(case, weight_decay, schedule):
    quadratic, cauchy = random_problems()
    # RMSProp with momentum and a short average (alpha=0.9) is chaotic on the quadratic:
    # its sign-like steps amplify a last-bit difference to 1e-6 within ~100 steps in closed
    # loop (measured), so it is checked with shared gradients on both problems.
    chaotic = case[0] == "rmsprop" and case[3].get("momentum")
    run_both(quadratic, *case, weight_decay=weight_decay, schedule=schedule,
             closed_loop=not chaotic)
    run_both(cauchy, *case, weight_decay=weight_decay, schedule=schedule, closed_loop=False)


@pytest.mark.parametrize("case", [CASES[1], CASES[6]], ids=["heavy-ball", "adam"])
def test_lrkit_schedules_drive_both_sides_alike(case):
    from lrkit import schedules

    shape = schedules.parse("warmup(10, cosine(150, final=0.1))")
    quadratic, cauchy = random_problems()
    run_both(quadratic, *case, weight_decay=0.01, schedule=shape, closed_loop=True)
    run_both(cauchy, *case, weight_decay=None, schedule=shape, closed_loop=False)


def test_callable_rate_matches_torch_lambda_lr():
    problem = random_problems()[1]
    lab_opt = optimizers.Adam(lr=lambda step: 0.05 * warmup_cosine(step))
    param = torch.nn.Parameter(torch.tensor(problem.x0, dtype=torch.float64))
    opt = torch.optim.Adam([param], lr=0.05)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, warmup_cosine)
    x, state = problem.x0.copy(), lab_opt.init(problem.x0)
    for _ in range(STEPS):
        x, state = lab_opt.update(x, problem.grad(x), state)
        param.grad = torch.tensor(problem.grad(param.detach().numpy()), dtype=torch.float64)
        opt.step()
        sched.step()
    np.testing.assert_allclose(x, param.detach().numpy(), rtol=1e-6, atol=1e-12)


def test_array_of_rates_runs_each_row_like_its_own_optimizer():
    problem = random_problems()[0]
    rates = np.array([0.01, 0.05, 0.2])
    batch = optimizers.Adam(lr=rates, schedule=warmup_cosine, weight_decay=0.1)
    xb = np.tile(problem.x0, (3, 1))
    sb = batch.init(xb)
    singles = [optimizers.Adam(lr=float(r), schedule=warmup_cosine, weight_decay=0.1)
               for r in rates]
    xs = [problem.x0.copy() for _ in rates]
    ss = [o.init(x) for o, x in zip(singles, xs, strict=True)]
    for _ in range(50):
        xb, sb = batch.update(xb, problem.grad(xb), sb)
        for i, o in enumerate(singles):
            xs[i], ss[i] = o.update(xs[i], problem.grad(xs[i]), ss[i])
    np.testing.assert_allclose(xb, np.stack(xs), rtol=1e-12)
