"""The methods ``lrkit bench`` compares, each one way of getting a trained model from a
problem and a seed, with the cost counted in full runs (loss-function calls / steps).

Every method trains the problem's own model (``make_model(seed)``) on its own data order
(``batches(seed)``) and is judged by the problem's held-out loss:

- ``auto``: :func:`lrkit.torch.autotrain` with its defaults (budget 1.5 runs).
- ``finder``: :func:`lrkit.torch.find_lr` (100 steps) and one full run at its default rule's pick.
- ``tune``: :func:`lrkit.tune` with 4 full runs of budget; its best rate is then trained at
  the neighbouring seed (``seed ^ 1``) and judged there, because the trials select on the
  held-out loss itself (the best trial's own loss is the best of 4 noisy draws on the very
  number reported; that retraining is a measurement and is not charged).
- ``default``: one run at the optimizer's customary rate (1e-3 for Adam, 1e-2 for SGD).
- ``prodigy``, ``dadapt``, ``dog``, ``ldog``: the published learning-rate-free optimizers at
  their documented default ``lr=1.0``, on lrkit's default schedule shape (their authors
  recommend annealing); D-Adaptation uses its SGD variant for SGD problems.
- ``schedulefree``: Schedule-Free AdamW (``lr=0.0025``) or SGD (``lr=1.0``), their defaults,
  with 5% warmup and no schedule, switched to ``eval()`` before evaluation.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lrkit._optional import require
from lrkit.auto.budget import DEFAULT_BUDGET, check_budget

FINDER_STEPS = 100
TUNE_RUNS = 4.0


@dataclass(frozen=True)
class MethodRun:
    """One method on one (problem, seed): held-out loss, cost in runs, the rate it used."""

    held_out: float
    runs: float
    lr: float | None = None
    note: str = ""


@dataclass(frozen=True)
class Method:
    """A named method; ``run(problem, seed)`` returns a :class:`MethodRun`."""

    name: str
    description: str
    run: Callable[[Any, int], MethodRun]
    extra: str | None = None

    def available(self) -> bool:
        """False when the package it needs is not installed."""
        if self.extra is None:
            return True
        try:
            require(self.extra)
        except ImportError:
            return False
        return True


def _finite(value: float) -> float:
    return value if math.isfinite(value) else math.inf


def auto_run(problem: Any, seed: int, *, budget: float = DEFAULT_BUDGET) -> MethodRun:
    """lrkit auto on ``problem`` at ``seed`` with ``budget`` runs (the ``auto`` method
    at its default budget; other budgets for ``benchmarks/auto_budget.py``)."""
    import torch

    from lrkit.torch.auto import autotrain

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = problem.make_model(seed)
        result = autotrain(model, problem.make_optimizer, problem.loss_fn, problem.batches(seed),
                           problem.steps, seed=seed, budget=budget)
        held_out = problem.held_out_loss(model)
    return MethodRun(_finite(held_out), result.runs, result.lr)


def _train(problem: Any, lr: float, seed: int, schedule: Any = None) -> float:
    from lrkit.problems.train import train

    return _finite(train(problem, lr, seed=seed, schedule=schedule).held_out)


def _finder(problem: Any, seed: int) -> MethodRun:
    import torch

    from lrkit.torch.finder import find_lr

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = problem.make_model(seed)
        optimizer = problem.make_optimizer(model.parameters(), problem.default_lr)
        found = find_lr(model, optimizer, problem.loss_fn, problem.batches(seed), num=FINDER_STEPS)
    lr, note = found.suggestion, ""
    if lr is None:
        lr, note = problem.default_lr, "no reliable suggestion; used the default rate"
    return MethodRun(_train(problem, lr, seed), 1.0 + found.steps / problem.steps, lr, note)


def _tune(problem: Any, seed: int) -> MethodRun:
    from lrkit.tuning import tune
    from lrkit.tuning.objective import problem_objective

    objective = problem_objective(problem, seed=seed)
    result = tune(objective, budget=TUNE_RUNS, total_steps=problem.steps, seed=seed,
                  start=problem.default_lr)
    if result.best_value is None or result.best_lr is None:
        return MethodRun(math.inf, result.cost or TUNE_RUNS, None, "no trial finished")
    # the trials are judged on the held-out loss itself, so the best trial's own value is
    # the best of 4 noisy draws on the very number reported; the pick trained at the
    # neighbouring seed (another initialisation and data order) is judged fairly
    return MethodRun(_train(problem, result.best_lr, seed ^ 1), float(result.cost or TUNE_RUNS),
                     result.best_lr, f"best trial's own held-out loss {float(result.best_value):.4g}")


def _default(problem: Any, seed: int) -> MethodRun:
    return MethodRun(_train(problem, problem.default_lr, seed), 1.0, problem.default_lr)


def _is_sgd(problem: Any) -> bool:
    return problem.optimizer.startswith("sgd")


def _with_optimizer(problem: Any, make: Callable[[Any], Any]) -> tuple[Any, list[Any]]:
    """``problem`` training with ``make(params)`` instead; the built optimizers are recorded."""
    built: list[Any] = []

    def make_optimizer(params: Any, lr: float) -> Any:
        optimizer = make(params)
        built.append(optimizer)
        return optimizer

    return dataclasses.replace(problem, make_optimizer=make_optimizer), built


def _lr_free(make: Callable[[Any, Any], Any]) -> Callable[[Any, int], MethodRun]:
    def run(problem: Any, seed: int) -> MethodRun:
        replaced, _ = _with_optimizer(problem, lambda params: make(problem, params))
        return MethodRun(_train(replaced, 1.0, seed), 1.0, None)

    return run


def _prodigy(problem: Any, params: Any) -> Any:
    return require("prodigyopt", "the prodigy method").Prodigy(params)


def _dadapt(problem: Any, params: Any) -> Any:
    dadaptation = require("dadaptation", "the dadapt method")
    if _is_sgd(problem):
        return dadaptation.DAdaptSGD(params, momentum=0.9 if "momentum" in problem.optimizer else 0.0)
    return dadaptation.DAdaptAdam(params)


def _dog(problem: Any, params: Any) -> Any:
    return require("dog", "the dog method").DoG(params)


def _ldog(problem: Any, params: Any) -> Any:
    return require("dog", "the ldog method").LDoG(params)


def _schedulefree(problem: Any, seed: int) -> MethodRun:
    schedulefree = require("schedulefree", "the schedulefree method")
    from lrkit.schedules import constant

    warmup_steps = max(1, round(0.05 * problem.steps))

    def make(params: Any) -> Any:
        if _is_sgd(problem):
            optimizer = schedulefree.SGDScheduleFree(params, warmup_steps=warmup_steps)
        else:
            optimizer = schedulefree.AdamWScheduleFree(params, warmup_steps=warmup_steps)
        optimizer.train()
        return optimizer

    replaced, built = _with_optimizer(problem, make)
    evaluate = problem.evaluate

    def evaluate_in_eval_mode(model: Any) -> float:
        built[-1].eval()  # schedule-free evaluates at its averaged point
        return evaluate(model)

    replaced = dataclasses.replace(replaced, evaluate=evaluate_in_eval_mode)
    lr = 1.0 if _is_sgd(problem) else 0.0025
    return MethodRun(_train(replaced, lr, seed, schedule=constant()), 1.0, lr)


def _auto_method(budget: float) -> Method:
    run = auto_run if budget == DEFAULT_BUDGET else functools.partial(auto_run, budget=budget)
    return Method("auto", f"lrkit auto (autotrain, budget {budget:g} runs)", run)


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        _auto_method(DEFAULT_BUDGET),
        Method("finder", "range test default rule + one run", _finder),
        Method("tune", "lrkit tune, 4 runs", _tune, extra="optuna"),
        Method("default", "the optimizer's default rate", _default),
        Method("prodigy", "Prodigy, lr=1 + default schedule", _lr_free(_prodigy), extra="prodigyopt"),
        Method("dadapt", "D-Adaptation, lr=1 + default schedule", _lr_free(_dadapt), extra="dadaptation"),
        Method("dog", "DoG, lr=1 + default schedule", _lr_free(_dog), extra="dog"),
        Method("ldog", "L-DoG, lr=1 + default schedule", _lr_free(_ldog), extra="dog"),
        Method("schedulefree", "Schedule-Free at its default rate", _schedulefree, extra="schedulefree"),
    )
}


def get_methods(names: list[str] | None, *, auto_budget: float = DEFAULT_BUDGET) -> list[Method]:
    """The methods named (all available ones when ``names`` is None), in the given order;
    ``auto`` runs lrkit auto with ``auto_budget`` runs (at least 1).

    >>> [m.description for m in get_methods(["auto"], auto_budget=2)]
    ['lrkit auto (autotrain, budget 2 runs)']
    """
    auto_budget = check_budget("auto_budget", auto_budget)
    chosen = _named(names)
    if auto_budget == DEFAULT_BUDGET:
        return chosen
    auto = _auto_method(auto_budget)
    return [auto if m.name == "auto" else m for m in chosen]


def _named(names: list[str] | None) -> list[Method]:
    if names is None:
        return [m for m in METHODS.values() if m.available()]
    methods = []
    # "auto,default" reads as two names; a name given twice is run once
    for name in (part.strip() for entry in names for part in str(entry).split(",")):
        if name not in METHODS:
            raise ValueError(f"`methods` must name known methods ({', '.join(METHODS)}), "
                             f"but got methods={names!r}")
        if METHODS[name] not in methods:
            methods.append(METHODS[name])
    return methods
