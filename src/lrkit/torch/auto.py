"""``autotrain``: train a PyTorch model hands-off at a searched rate, within a hard budget.

The torch side is thin: a :class:`TorchSession` gives the framework-agnostic algorithm in
:mod:`lrkit.auto` one update at a rate, an evaluation on held-back batches, and exact
snapshots (weights, optimizer state, random generators, position in the data). Every call
of ``loss_fn`` goes through one counter that refuses to pass ``floor(budget * steps)``.

>>> import torch
>>> torch.manual_seed(0)  # doctest: +ELLIPSIS
<torch._C.Generator object at ...>
>>> x = torch.randn(256, 4); y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0])
>>> data = [(x[i:i + 32], y[i:i + 32]) for i in range(0, 256, 32)]
>>> model = torch.nn.Linear(4, 1)
>>> def loss_fn(model, batch):
...     inputs, targets = batch
...     return torch.nn.functional.mse_loss(model(inputs).squeeze(-1), targets)
>>> result = autotrain(model, lambda p, lr: torch.optim.SGD(p, lr=lr), loss_fn, data, 200, seed=0)
>>> result.steps_spent <= 300 and result.losses[-1] < 0.01
True
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from lrkit._progress import progress_bar
from lrkit._validation import check_callable, check_int, check_positive, check_seed
from lrkit.auto.budget import DEFAULT_BUDGET, BudgetExceeded, check_budget
from lrkit.auto.core import Decision, Settings, run_auto
from lrkit.problems.train import default_schedule
from lrkit.schedules import as_schedule, warn_if_ends_early
from lrkit.torch.closure import needs_closure
from lrkit.torch.cycle import Cycle
from lrkit.torch.groups import read_base_lrs, set_lrs
from lrkit.torch.state import Snapshot, capture_modes, restore_modes


@dataclass(frozen=True)
class AutoResult:
    """What ``autotrain`` chose and did.

    Attributes:
        lr: the chosen peak rate (the ``lr`` given to ``make_optimizer``; groups keep
            their ratios to it).
        lrs: the rate realised at each step of the final run (group 0).
        losses: the training loss at each step of the final run; ``nan`` at a step whose
            batch blew up at any rate and was passed over (its rate was never applied).
        steps: the steps of the final run asked for.
        steps_spent: every ``loss_fn`` call made, search and evaluation included.
        budget_steps: the limit, ``floor(budget * steps)``.
        edge_lr: the stability edge found by the range test (None if not run).
        candidates: ``(lr, held-back loss)`` of every raced rate.
        history: the decisions taken, in order, each with its reason.
        by_phase: ``loss_fn`` calls per phase (edge, race, final).
        optimizer: the optimizer that trained the model (its state is the final one).
    """

    lr: float
    lrs: tuple[float, ...]
    losses: tuple[float, ...]
    steps: int
    steps_spent: int
    budget_steps: int
    edge_lr: float | None
    candidates: tuple[tuple[float, float], ...]
    history: tuple[Decision, ...]
    by_phase: dict[str, int]
    optimizer: Any = field(repr=False, compare=False)

    @property
    def runs(self) -> float:
        """The cost in runs: ``steps_spent / steps``."""
        return self.steps_spent / self.steps

    def to_dict(self) -> dict[str, Any]:
        """A summary in plain Python values (no tensors, no optimizer). Non-finite numbers
        (a blown-up candidate's score, a passed-over step's loss) stay floats: ``json.dumps``
        writes them as ``NaN``/``Infinity``, ``lrkit auto --json`` as strings."""
        return {
            "lr": self.lr,
            "steps": self.steps,
            "steps_spent": self.steps_spent,
            "budget_steps": self.budget_steps,
            "runs": self.runs,
            "edge_lr": self.edge_lr,
            "candidates": [list(c) for c in self.candidates],
            "by_phase": dict(self.by_phase),
            "history": [{"phase": d.phase, "message": d.message, "data": d.data}
                        for d in self.history],
            "lrs": list(self.lrs),
            "losses": list(self.losses),
        }


class _Tape:
    """Batches from ``data`` (cycled when it ends), replayable by index.

    Batches taken off the front with :meth:`take` (held back to score the search) stay at
    the front of the replay: index 0 is the first batch of ``data``, so a run that reads
    from index 0 sees the data in its own order, held-back batches included. The next
    ``keep`` batches are kept for good (every candidate of the search replays them); past
    them, batches are kept from the oldest index still to be replayed
    (:meth:`release_before`) on, so going back to a kept checkpoint replays the same
    batches.
    """

    def __init__(self, data: Iterable[Any], keep: int, *, name: str = "data") -> None:
        self._stream = Cycle(data, name=name)
        self._taken: list[Any] = []
        self._kept: list[Any] = []
        self._keep = keep
        self._recent: dict[int, Any] = {}  # index -> batch, past the kept ones
        self._read_to = 0  # indices below this have been read from the stream

    def _next(self) -> Any:
        return next(self._stream)

    @property
    def held_back(self) -> int:
        """How many batches :meth:`take` held back from the front."""
        return len(self._taken)

    def take(self, n: int) -> list[Any]:
        """The next ``n`` batches of the stream, held back for evaluation (see the class doc)."""
        batches = [self._next() for _ in range(n)]
        self._taken.extend(batches)
        self._read_to = len(self._taken)
        return batches

    def get(self, index: int) -> Any:
        if index < len(self._taken):
            return self._taken[index]
        kept = index - len(self._taken)
        if kept < self._keep:
            while len(self._kept) <= kept:
                self._kept.append(self._next())
            self._read_to = max(self._read_to, len(self._taken) + len(self._kept))
            return self._kept[kept]
        while len(self._kept) < self._keep:  # the stream's order: the kept ones come first
            self._kept.append(self._next())
        self._read_to = max(self._read_to, len(self._taken) + self._keep)
        while self._read_to <= index:
            self._recent[self._read_to] = self._next()
            self._read_to += 1
        if index in self._recent:
            return self._recent[index]
        return self._next()  # released: going back past the latest checkpoint reads on

    def release_before(self, index: int) -> None:
        """Forget the batches past the kept ones below ``index`` (never to be replayed)."""
        for old in [i for i in self._recent if i < index]:
            del self._recent[old]


class TorchSession:
    """The :class:`lrkit.auto.core.Session` of a torch model, optimizer and data stream."""

    def __init__(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        loss_fn: Callable[[torch.nn.Module, Any], torch.Tensor],
        tape: _Tape,
        val_batches: list[Any],
        limit: int,
        *,
        clip_grad_norm: float | None = None,
        bar: Any = None,
    ) -> None:
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.tape = tape
        self.val_batches = val_batches
        self.eval_cost = len(val_batches)
        self.base_lrs = read_base_lrs(optimizer)
        self.limit = limit
        self.calls = 0
        # the search never trains on the held-back batches: it reads from just after them
        self.cursor = tape.held_back
        self._previous_snapshot = 0
        self.clip_grad_norm = clip_grad_norm
        self.bar = bar

    def _loss(self, batch: Any) -> torch.Tensor:
        # the one place loss_fn is called: the budget is enforced here, structurally
        if self.calls >= self.limit:
            raise BudgetExceeded(f"loss_fn call {self.calls + 1} would exceed the budget of {self.limit}")
        self.calls += 1
        if self.bar is not None:
            self.bar.update(1)
        loss = self.loss_fn(self.model, batch)
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            raise TypeError(f"`loss_fn` must return a scalar tensor, but got {type(loss).__name__}"
                            + (f" of shape {tuple(loss.shape)}" if isinstance(loss, torch.Tensor) else ""))
        return loss.reshape(())

    def step(self, lr: float) -> float:
        self.model.train()
        batch = self.tape.get(self.cursor)
        self.cursor += 1
        self.optimizer.zero_grad(set_to_none=True)
        loss = self._loss(batch)
        value = float(loss.detach())
        if not math.isfinite(value):
            return value
        loss.backward()
        if self.clip_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip_grad_norm)
        set_lrs(self.optimizer, [base * lr for base in self.base_lrs])
        self.optimizer.step()
        return value

    def evaluate(self) -> float:
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                total = sum(float(self._loss(batch)) for batch in self.val_batches)
        finally:
            self.model.train(was_training)
        return total / max(1, len(self.val_batches))

    def rewind(self) -> None:
        """Read the data from its first batch again: the final run is then the plain run
        at the chosen rate, on the data in its own order (held-back batches included)."""
        self.cursor = 0

    def rate_gain(self, horizon: int, steps: int) -> float:
        """How much larger the optimizer's steps are, at one nominal rate, over a run of
        ``horizon`` steps than at the same points of the schedule in a run of ``steps``:
        ``sqrt(steps / horizon)`` for AdaGrad, whose denominator sums the squared gradients
        and so grows with the steps taken; 1 for optimizers without such a denominator
        (SGD) or with one that forgets (Adam, RMSprop)."""
        if horizon < steps and isinstance(self.optimizer, torch.optim.Adagrad):
            return math.sqrt(steps / horizon)
        return 1.0

    def skip(self) -> None:
        """Pass over the next batch (one that blows up at any rate) without a loss call."""
        self.cursor += 1

    def snapshot(self) -> tuple[Snapshot, int]:
        # the algorithm keeps two checkpoints: the one it last took or went back to, and
        # this one. Batches older than the first are never replayed
        self.tape.release_before(min(self._previous_snapshot, self.cursor))
        self._previous_snapshot = self.cursor
        return Snapshot.take(self.model, self.optimizer), self.cursor

    def restore(self, token: tuple[Snapshot, int]) -> None:
        snapshot, cursor = token
        snapshot.restore(self.model, self.optimizer)
        self.cursor = cursor
        # gone back past a checkpoint (which the algorithm then drops): the next snapshot
        # must keep the batches from this one on
        self._previous_snapshot = cursor


def _checked_optimizer(make_optimizer: Callable[[Any, float], Any],
                       model: torch.nn.Module) -> torch.optim.Optimizer:
    """``make_optimizer(params, 1.0)``, checked to be an optimizer whose rates follow ``lr``:
    the search sets the rate through the groups' ratios to that of ``lr=1``, so a factory
    that ignores ``lr`` (or scales it to 0) would train at rates other than those reported."""
    optimizer = make_optimizer(model.parameters(), 1.0)
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"`make_optimizer` must return a torch.optim.Optimizer, but got {optimizer!r}")
    if needs_closure(optimizer):
        # the budget counts loss_fn calls, and such an optimizer makes up to max_iter a step
        raise ValueError(
            f"`make_optimizer` must build an optimizer that steps without a closure, but got "
            f"{type(optimizer).__name__}, which calls the loss many times a step (autotrain "
            f"counts every call against the budget); lrkit.torch.find_lr and lrkit.tune take it")
    at_one = read_base_lrs(optimizer)
    at_two = read_base_lrs(make_optimizer(model.parameters(), 2.0))
    if max(at_one) <= 0 or not np.allclose(at_two, [2 * lr for lr in at_one], rtol=1e-9, atol=0.0):
        raise ValueError(
            f"`make_optimizer(params, lr)` must set every group's rate in proportion to `lr`, "
            f"but got rates {at_one} at lr=1 and {at_two} at lr=2 (use `lr` in the factory, "
            f"e.g. lambda params, lr: torch.optim.SGD(params, lr=lr))")
    return optimizer


def _length(batches: Any) -> int | None:
    """``len(batches)``, or None when it has none (a DataLoader over an IterableDataset
    defines ``__len__`` and raises ``TypeError`` from it)."""
    try:
        return len(batches)
    except TypeError:
        return None


def autotrain(
    model: torch.nn.Module,
    make_optimizer: Callable[[Any, float], torch.optim.Optimizer],
    loss_fn: Callable[[torch.nn.Module, Any], torch.Tensor],
    data: Iterable[Any],
    steps: int,
    *,
    schedule: Callable[[int], float] | None = None,
    budget: float = DEFAULT_BUDGET,
    seed: int | None = None,
    val_batches: int = 4,
    val_data: Iterable[Any] | None = None,
    clip_grad_norm: float | None = None,
    progress: bool = False,
    settings: Settings | None = None,
) -> AutoResult:
    """Search a peak rate and train ``model`` in place for ``steps`` steps, spending at most
    ``floor(budget * steps)`` calls of ``loss_fn`` in all.

    ``make_optimizer(params, lr)`` builds any torch optimizer (groups may scale ``lr``;
    their ratios are kept); it is called twice at the start, at ``lr=1`` and ``lr=2``, to
    check that the rates follow ``lr``. ``loss_fn(model, batch)`` returns a scalar tensor. ``data`` is
    any iterable of batches (cycled when it ends); the first ``val_batches`` batches are
    held back and only ever evaluated, to score the raced rates, or taken from
    ``val_data`` when given (better when ``data`` cycles over a small set, whose held-back
    batches come round again in training); never more than that iterable has, when it has a
    length. ``schedule`` is the shape
    (an lrkit schedule or any ``step -> multiplier``), by default linear warmup over 5% of
    the steps then cosine decay to 0. The same ``seed`` and data give the same result.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"`model` must be a torch.nn.Module, but got model={model!r}")
    check_callable("make_optimizer", make_optimizer)
    check_callable("loss_fn", loss_fn)
    steps = check_int("steps", steps, minimum=1)
    budget = check_budget("budget", budget)
    val_batches = check_int("val_batches", val_batches, minimum=1)
    if clip_grad_norm is not None:
        clip_grad_norm = check_positive("clip_grad_norm", clip_grad_norm)
    schedule = as_schedule(schedule, default=default_schedule(steps))
    warn_if_ends_early(schedule, steps)
    if seed is not None:
        seed = check_seed("seed", seed)
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)
    if settings is not None and not isinstance(settings, Settings):
        raise TypeError(f"`settings` must be an lrkit.auto.Settings or None, but got "
                        f"settings={settings!r}")
    if not hasattr(data, "__iter__"):
        raise TypeError(f"`data` must be an iterable of batches, but got data={data!r}")
    available = _length(val_data if val_data is not None else data)
    if available is not None and available < val_batches:
        # more would evaluate the same batches again, at a loss call each, for nothing
        val_batches = max(1, available)
    settings = settings or Settings()
    limit = int(math.floor(budget * steps + 1e-9))
    optimizer = _checked_optimizer(make_optimizer, model)
    tape = _Tape(data, keep=max(settings.edge_max_steps, steps // 4 + 1))
    held_back = _Tape(val_data, keep=0, name="val_data").take(val_batches) \
        if val_data is not None else tape.take(val_batches)
    with progress_bar(limit, "lrkit auto", progress) as bar:
        session = TorchSession(model, optimizer, loss_fn, tape, held_back, limit,
                               clip_grad_norm=clip_grad_norm, bar=bar)
        modes = capture_modes(model)
        try:
            outcome = run_auto(session, steps, schedule, budget=budget, settings=settings)
        except BaseException:
            restore_modes(model, modes)  # run_auto put the weights back; the modes too
            raise
    model.train()
    return AutoResult(
        lr=outcome.lr,
        lrs=tuple(r * session.base_lrs[0] for r in outcome.lrs),
        losses=outcome.losses,
        steps=steps,
        steps_spent=session.calls,
        budget_steps=limit,
        edge_lr=outcome.edge.top if outcome.edge is not None else None,
        candidates=outcome.candidates,
        history=outcome.history,
        by_phase=outcome.by_phase,
        optimizer=optimizer,
    )
