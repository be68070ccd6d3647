"""Runs a built-in problem under a Guard with an injected fault (shared by the guard tests)."""

from __future__ import annotations

import math

import torch

from lrkit import problems
from lrkit.problems.train import default_schedule
from lrkit.torch import ScheduleLR
from lrkit.torch.guard import Guard

FAULTS = ("none", "nan_grad", "lr_spike", "inf_batch", "exploding_loss")


def run(name: str, lr: float, fault: str = "none", *, at: int | None = None, seed: int = 0,
        steps: int | None = None, span: int = 3, **guard_kwargs):
    """Train ``name`` at ``lr`` with lrkit's default schedule (driven by ``ScheduleLR``, so
    a backoff goes through its ``scale``) under a Guard; inject ``fault``
    at step ``at`` (default: 40% of the run). Returns (held-out loss, guard)."""
    problem = problems.get(name)
    steps = steps or problem.steps
    at = int(0.4 * steps) if at is None else at
    base = default_schedule(steps)

    def multiplier(t: int) -> float:
        spike = 100.0 if fault == "lr_spike" and at <= t < at + span else 1.0
        return base(t) * spike

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = problem.make_model(seed)
        model.train()
        optimizer = problem.make_optimizer(model.parameters(), lr)
        scheduler = ScheduleLR(optimizer, multiplier)
        guard = Guard(model, optimizer, scheduler, **guard_kwargs)
        batches = problem.batches(seed)
        for t in range(steps):
            batch = next(batches)
            if fault == "inf_batch" and t == at:
                batch = tuple(torch.full_like(x, math.inf) if x.is_floating_point() else x
                              for x in batch)
            optimizer.zero_grad(set_to_none=True)
            loss = problem.loss_fn(model, batch)
            if fault == "exploding_loss" and at <= t < at + span:
                loss = loss * 1e4
            loss.backward()
            if fault == "nan_grad" and t == at:
                next(p for p in model.parameters() if p.grad is not None).grad.view(-1)[0] = math.nan
            guard.step(loss)
        guard.close()
        return float(problem.evaluate(model)), guard
