"""The canonical training run of a problem: the one every benchmark and the reference grid
use, so that "the held-out loss at rate ``lr``" means the same thing everywhere.

One run builds the model from ``seed``, the optimizer at ``lr``, draws batches in the
order of ``seed`` and, at step ``t`` (0-based), sets every parameter group's rate to::

    lr_group(t) = base_lr_group * schedule(t)

where ``base_lr_group`` is what the problem's optimizer factory gave the group for ``lr``
(so groups keep their ratios). The default schedule is lrkit's default shape: a linear
warmup over the first 5% of the steps, then a cosine decay to 0 (the shape ``lrkit auto``
uses). A run whose training loss becomes NaN or infinite stops at once and reports
``held_out = inf`` and ``diverged = True``; it never raises for that.

>>> from lrkit import problems
>>> result = problems.train("quadratic", 0.05, seed=0, steps=50)
>>> result.diverged, bool(result.held_out < result.losses[0])
(False, True)
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lrkit._progress import progress_bar
from lrkit._validation import check_int, check_positive, check_seed
from lrkit.problems.base import Problem, get

logger = logging.getLogger(__name__)

WARMUP_FRACTION = 0.05


@dataclass(frozen=True)
class TrainResult:
    """The outcome of one :func:`train` run.

    Attributes:
        problem: the problem's name.
        lr: the base rate the run was asked for.
        seed: model initialisation and data order.
        steps: the step budget (the run stops earlier when it diverges).
        held_out: the held-out loss after the last step; ``inf`` when the run diverged.
        diverged: the training (or held-out) loss became NaN or infinite.
        diverged_at: the step whose loss was non-finite, else None.
        losses: the training loss of every step run (before that step's update).
        lrs: the rate of the first parameter group at every step run.
        seconds: wall time of the run, held-out evaluation included.
        schedule: the text of the schedule used.
        model: the trained model (not compared, not printed).
    """

    problem: str
    lr: float
    seed: int
    steps: int
    held_out: float
    diverged: bool
    diverged_at: int | None
    losses: np.ndarray = field(repr=False, compare=False)
    lrs: np.ndarray = field(repr=False, compare=False)
    seconds: float = field(compare=False)
    schedule: str = ""
    model: Any = field(default=None, repr=False, compare=False)


def default_schedule(steps: int) -> Any:
    """lrkit's default shape for a run of ``steps`` steps: linear warmup over the first 5%
    (at least one step), then cosine decay to 0 over the rest.

        multiplier(t) = (t + 1) / (w + 1)                         for t < w = max(1, round(0.05 * steps))
        multiplier(t) = (1 + cos(pi * (t - w) / (steps - w))) / 2  for w <= t < steps

    Warmup keeps the first updates, taken while the optimizer's statistics and the
    curvature are still settling, from blowing up at a peak rate near the edge; decaying
    to 0 removes the noise floor at the end, which lets a larger, faster peak rate win.
    ``lrkit auto``, ``train``, the grids and the benchmarks all use it.

    >>> str(default_schedule(200))
    'warmup(10, cosine(190))'
    """
    from lrkit.schedules import cosine, warmup

    steps = check_int("steps", steps, minimum=1)
    warmup_steps = max(1, int(round(WARMUP_FRACTION * steps)))
    return warmup(warmup_steps, cosine(max(1, steps - warmup_steps)))


def resolve_problem(problem: Problem | str) -> Problem:
    """A :class:`Problem` from itself, a registered name or ``path.py:function``."""
    if isinstance(problem, Problem):
        return problem
    if isinstance(problem, str):
        return get(problem)
    raise TypeError(
        f"`problem` must be an lrkit.problems.Problem or a name, but got problem={problem!r}"
    )


def resolve_schedule(schedule: Any, steps: int) -> Callable[[int], float]:
    """``None`` -> :func:`default_schedule`, anything else as
    :func:`lrkit.schedules.as_schedule` reads it (text is parsed, a callable is itself);
    warns when the shape stops changing long before ``steps``
    (:func:`lrkit.schedules.warn_if_ends_early`)."""
    from lrkit.schedules import as_schedule, warn_if_ends_early

    shape = as_schedule(schedule, default=default_schedule(steps))
    warn_if_ends_early(shape, steps)
    return shape


def train(
    problem: Problem | str,
    lr: float,
    *,
    seed: int = 0,
    schedule: Any = None,
    steps: int | None = None,
    progress: bool = False,
) -> TrainResult:
    """Train ``problem`` from scratch at base rate ``lr`` and return the held-out loss.

    Args:
        problem: a Problem, a registered name or ``path.py:function``.
        lr: the base rate (the schedule's multiplier 1 corresponds to it).
        seed: the model initialisation and data order; the same (problem, lr, seed,
            schedule, steps) gives the same losses.
        schedule: None for :func:`default_schedule`, schedule text, or a callable.
        steps: the number of updates; the problem's budget when None.
        progress: show a progress bar on stderr.

    Torch's global random state is forked for the run (seeded with ``seed``, so dropout in a
    user's model is reproducible) and left as it was for the caller.
    """
    import torch

    from lrkit.torch.closure import train_step
    from lrkit.torch.groups import read_base_lrs, scale_lrs

    problem = resolve_problem(problem)
    lr = check_positive("lr", lr)
    seed = check_seed("seed", seed)
    steps = problem.steps if steps is None else check_int("steps", steps, minimum=1)
    shape = resolve_schedule(schedule, steps)

    losses = np.full(steps, np.nan)
    lrs = np.full(steps, np.nan)
    diverged_at: int | None = None
    start = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = problem.make_model(seed)
        model.train()
        optimizer = problem.make_optimizer(model.parameters(), lr)
        base_lrs = read_base_lrs(optimizer)
        batches = endless(problem.batches, seed)
        with progress_bar(steps, f"train {problem.name}", progress) as bar:
            for step in range(steps):
                multiplier = float(shape(step))
                scale_lrs(optimizer, base_lrs, multiplier)
                lrs[step] = base_lrs[0] * multiplier
                value = train_step(optimizer, lambda b: _scalar_loss(problem.loss_fn(model, b)),
                                   next(batches))
                losses[step] = value
                if not math.isfinite(value):  # no update was made
                    diverged_at = step
                    break
                bar.update()
        held_out = math.inf
        if diverged_at is None:
            held_out = problem.held_out_loss(model)
            if not math.isfinite(held_out):
                diverged_at, held_out = steps, math.inf
    run = slice(0, steps if diverged_at is None else min(diverged_at + 1, steps))
    result = TrainResult(
        problem=problem.name,
        lr=lr,
        seed=seed,
        steps=steps,
        held_out=held_out,
        diverged=diverged_at is not None,
        diverged_at=diverged_at,
        losses=losses[run],
        lrs=lrs[run],
        seconds=time.perf_counter() - start,
        schedule=str(shape),
        model=model,
    )
    if result.diverged:
        logger.info(
            "%s diverged at step %s with lr=%g seed=%d", problem.name, diverged_at, lr, seed
        )
    return result


def evaluate_lr(
    problem: Problem | str,
    lr: float,
    seeds: Sequence[int] = (0, 1, 2, 3),
    schedule: Any = None,
    *,
    steps: int | None = None,
    progress: bool = False,
) -> float:
    """The mean held-out loss of full :func:`train` runs at ``lr`` over ``seeds``;
    ``inf`` when any run diverged (a rate that sometimes blows up is not a good rate).

    >>> evaluate_lr("quadratic", 0.05, seeds=(0, 1), steps=50) < evaluate_lr("quadratic", 1e-4, seeds=(0, 1), steps=50)
    True
    """
    problem = resolve_problem(problem)
    seeds = _check_seeds(seeds)
    results = [
        train(problem, lr, seed=seed, schedule=schedule, steps=steps, progress=progress)
        for seed in seeds
    ]
    return float(np.mean([r.held_out for r in results]))


def endless(batches: Callable[[int], Any], seed: int) -> Iterator[Any]:
    """The batches of ``batches(seed)`` forever. A problem should give an endless iterator,
    but a finite one, a list or a DataLoader works too: a re-iterable source starts a new
    pass, an exhausted iterator is replaced by a fresh ``batches(seed)``."""
    source = batches(seed)
    while True:
        produced = False
        for batch in source:
            produced = True
            yield batch
        if not produced:
            raise ValueError(
                f"`batches` must yield at least one batch, but got batches({seed}) that is empty"
            )
        if iter(source) is source:  # a one-shot iterator: ask the problem for a new one
            source = batches(seed)


def _check_seeds(seeds: Sequence[int]) -> tuple[int, ...]:
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence) or not seeds:
        raise TypeError(
            f"`seeds` must be a non-empty sequence of integers, but got seeds={seeds!r}"
        )
    return tuple(check_seed("seeds", s) for s in seeds)


def _scalar_loss(loss: Any) -> Any:
    import torch

    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        shape = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
        raise TypeError(
            f"`loss_fn` must return a scalar tensor, but got loss_fn(model, batch)={shape!r}"
        )
    return loss.reshape(())
