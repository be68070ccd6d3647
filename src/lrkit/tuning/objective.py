"""The objective behind ``lrkit tune --problem NAME``: one canonical training run of a
built-in (or user) problem that reports its training loss to the trial after every update.

It is :func:`lrkit.problems.train` step for step (same model, optimizer, batch order,
schedule ``lr_group(t) = base_lr_group * schedule(t)`` and held-out evaluation), so the
final value of a trial equals ``problems.train(problem, trial.lr, seed=seed).held_out``.
At the pruner's rungs it also evaluates the held-out loss and reports that, so trials are
raced on the criterion they are finally judged by (the training loss can disagree: a rate
too high for held-out loss can look best on training loss early in a run).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from lrkit._validation import check_int, check_seed


def problem_objective(problem: Any, *, seed: int = 0, schedule: Any = None,
                      steps: int | None = None) -> Callable[[Any], float]:
    """An objective ``trial -> held-out loss`` training ``problem`` at ``trial.lr``.

    Every trial uses the same ``seed`` (model initialisation and data order), so rates are
    compared on common random numbers and the differences are the rate's, not the seed's.

    >>> from lrkit.tuning import tune
    >>> objective = problem_objective("quadratic", steps=40)
    >>> result = tune(objective, n_trials=6, total_steps=40, lr_range=(1e-4, 1.0), start=1e-2)
    >>> result.best_value < 1.0
    True
    """
    from lrkit.problems.train import resolve_problem, resolve_schedule

    problem = resolve_problem(problem)
    seed = check_seed("seed", seed)
    steps = problem.steps if steps is None else check_int("steps", steps, minimum=1)
    shape = resolve_schedule(schedule, steps)

    def objective(trial: Any) -> float:
        import torch

        from lrkit.problems.train import _scalar_loss
        from lrkit.torch.closure import train_step
        from lrkit.torch.groups import read_base_lrs, scale_lrs

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = problem.make_model(seed)
            model.train()
            optimizer = problem.make_optimizer(model.parameters(), trial.lr)
            base_lrs = read_base_lrs(optimizer)
            batches = problem.batches(seed)
            for step in range(steps):
                scale_lrs(optimizer, base_lrs, float(shape(step)))
                value = train_step(optimizer, lambda b: _scalar_loss(problem.loss_fn(model, b)),
                                   next(batches))
                if not math.isfinite(value):  # no update was made
                    trial.report(step, value)  # diverged: recorded and raised at once
                validation = None
                if trial.wants_validation(step):
                    # race trials on the criterion of their final value, not the training loss
                    validation = problem.held_out_loss(model)
                    model.train()
                trial.report(step, value, validation=validation)  # raises when pruned/diverged
            held_out = problem.held_out_loss(model)
        return held_out if math.isfinite(held_out) else math.inf

    objective.problem = problem  # type: ignore[attr-defined]
    objective.steps = steps  # type: ignore[attr-defined]
    return objective


def tune_problem(problem: Any, *, n_trials: int | None = None, budget: float | None = None,
                 seed: int = 0, schedule: Any = None, steps: int | None = None,
                 lr_range: tuple[float, float] | None = None, **tune_kwargs: Any) -> Any:
    """Tune the rate of a problem's canonical run: :func:`lrkit.tune` on
    :func:`problem_objective`, with the budget in full runs of the problem.

    The rates searched default to 1e-4x .. 1e3x the problem's default rate (the reference
    grid's range) and the lrkit sampler starts at the default rate.

    >>> result = tune_problem("quadratic", budget=2, steps=40)
    >>> round(result.cost, 6) <= 2 and result.best_lr is not None
    True
    """
    from lrkit.problems.train import resolve_problem
    from lrkit.tuning.api import tune

    problem = resolve_problem(problem)
    steps = problem.steps if steps is None else check_int("steps", steps, minimum=1)
    if lr_range is None:
        lr_range = (problem.default_lr * 1e-4, problem.default_lr * 1e3)
    tune_kwargs.setdefault("start", problem.default_lr)
    metadata = {"problem": problem.name, "seed": seed, **tune_kwargs.pop("metadata", {})}
    return tune(problem_objective(problem, seed=seed, schedule=schedule, steps=steps),
                n_trials=n_trials, budget=budget, total_steps=steps, lr_range=lr_range,
                metadata=metadata, **tune_kwargs)
