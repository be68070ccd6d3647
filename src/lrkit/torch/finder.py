"""``find_lr``: the range test on a PyTorch model, leaving the model as it found it.

It wraps one optimizer step (with gradient accumulation, an AMP GradScaler and gradient
clipping when asked) into the ``step(lr) -> loss`` that :func:`lrkit.range_test` drives,
and snapshots the model, the optimizer, the scaler, the gradients, the train/eval modes
and every random generator (python, numpy, torch, CUDA) to CPU memory (or to a file)
first. Whatever happens (the sweep ends, ``loss_fn`` raises, the user presses Ctrl-C)
all of it is put back bit for bit. The snapshot lives on the CPU, so a model on the GPU
does not need twice its memory there.

The sweep trains in train mode (``model.train()``, as a training loop would); each
module's own mode comes back afterwards. With several parameter groups the sweep rate is
the first group's rate; the other groups keep their ratio to it, and so does the
suggestion. An optimizer whose ``step`` needs a closure (LBFGS) gets one over the same
batches.

>>> import torch, lrkit.torch
>>> torch.manual_seed(0)                                     # doctest: +ELLIPSIS
<torch._C.Generator object at ...>
>>> model = torch.nn.Linear(4, 1)
>>> optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
>>> x = torch.randn(64, 4); y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
>>> data = [(x[i:i + 16], y[i:i + 16]) for i in range(0, 64, 16)]
>>> def loss_fn(model, batch):
...     inputs, targets = batch
...     return torch.nn.functional.mse_loss(model(inputs), targets)
>>> before = model.weight.detach().clone()
>>> result = lrkit.torch.find_lr(model, optimizer, loss_fn, data, start=1e-4, end=10, num=60)
>>> result.stop_reason, bool(torch.equal(model.weight, before))
('diverged', True)
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch

from lrkit._validation import check_callable, check_int, check_positive
from lrkit.finder.core import range_test
from lrkit.finder.result import RangeTestResult
from lrkit.torch.closure import needs_closure
from lrkit.torch.cycle import Cycle
from lrkit.torch.groups import read_base_lrs, set_lrs
from lrkit.torch.state import Snapshot, capture_modes, restore_modes

logger = logging.getLogger(__name__)

# an AMP scaler that skips this many steps in a row at one rate has overflowed for good
MAX_SKIPPED_STEPS = 30


def find_lr(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[torch.nn.Module, Any], torch.Tensor],
    data: Iterable[Any],
    *,
    start: float = 1e-7,
    end: float = 10.0,
    num: int = 100,
    beta: float | None = None,
    threshold: float = 1.0,
    stop_on_divergence: bool = True,
    accumulation_steps: int = 1,
    scaler: Any = None,
    max_grad_norm: float | None = None,
    val_data: Iterable[Any] | None = None,
    autocast_dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
    snapshot_dir: str | os.PathLike[str] | None = None,
    progress: bool = False,
) -> RangeTestResult:
    """Run a learning-rate range test on ``model`` and restore it afterwards.

    Args:
        model: the model; it is trained during the sweep and restored bit for bit after.
        optimizer: any ``torch.optim.Optimizer`` over the model's parameters.
        loss_fn: ``loss_fn(model, batch)`` returning the scalar loss tensor of a batch.
        data: any iterable of batches; restarted when it runs out (a one-pass iterator
            that runs out raises ValueError).
        start, end, num, beta, threshold, stop_on_divergence, progress: as in
            :func:`lrkit.range_test`.
        accumulation_steps: micro-batches per optimizer step; the sweep advances once per
            optimizer step, and the reported loss is the mean over the micro-batches.
        scaler: a ``torch.amp.GradScaler``; a step it skips (inf/NaN gradients) is retried
            at the same rate, so skipped steps do not advance the sweep.
        max_grad_norm: clip the gradients' total norm to this before each step.
        val_data: when given, the loss recorded at each rate is the mean ``loss_fn`` over
            these batches after the update (eval mode, no gradients), instead of the
            training batch's loss.
        autocast_dtype: run ``loss_fn`` under ``torch.autocast`` with this dtype.
        device: where batches go (tensors, and tensors in tuples, lists and dicts); default
            the device of the model's first parameter.
        snapshot_dir: keep the snapshot in a file (uniquely named, removed afterwards) in
            this directory instead of CPU memory.

    Returns:
        The :class:`lrkit.RangeTestResult`; rates are the first parameter group's.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"`model` must be a torch.nn.Module, but got model={model!r}")
    base_lrs = read_base_lrs(optimizer)
    check_callable("loss_fn", loss_fn)
    if data is None or not hasattr(data, "__iter__"):
        raise TypeError(f"`data` must be an iterable of batches, but got data={data!r}")
    accumulation_steps = check_int("accumulation_steps", accumulation_steps, minimum=1)
    if max_grad_norm is not None:
        max_grad_norm = check_positive("max_grad_norm", max_grad_norm)
    if val_data is not None and not hasattr(val_data, "__iter__"):
        raise TypeError(f"`val_data` must be an iterable of batches, but got val_data={val_data!r}")
    if isinstance(val_data, Iterator):
        # it is read in full after every step: a generator would be empty from the second on
        raise TypeError(f"`val_data` must be re-iterable (a list, a DataLoader), but got a "
                        f"one-pass iterator val_data={val_data!r}")
    if base_lrs[0] <= 0:
        raise ValueError(
            f"`optimizer` first group's lr must be > 0 to set the groups' ratios, but got lr={base_lrs[0]!r}"
        )
    ratios = [lr / base_lrs[0] for lr in base_lrs]
    if needs_closure(optimizer) and scaler is not None and scaler.is_enabled():
        raise ValueError(f"`optimizer` {type(optimizer).__name__} steps with a closure, which a "
                         "GradScaler cannot drive; pass scaler=None")
    if device is None:
        first = next(model.parameters(), None)
        device = first.device if first is not None else torch.device("cpu")
    device = torch.device(device)

    # a unique name: another run's snapshot (or a user's file) in the directory is left alone
    snapshot = Snapshot.take(model, optimizer, scaler=scaler, directory=snapshot_dir,
                             name=f"lrkit-find-snapshot-{uuid.uuid4().hex}.pt")
    modes = capture_modes(model)
    # the optimizer may also train parameters outside the model (a temperature, a loss head)
    in_model = {id(p) for p in model.parameters()}
    outside = list({id(p): p for group in optimizer.param_groups for p in group["params"]
                    if id(p) not in in_model}.values())
    outside_values = [p.detach().to("cpu", copy=True) for p in outside]
    params = [*model.parameters(), *outside]
    grads = [None if p.grad is None else p.grad.detach().to("cpu", copy=True) for p in params]
    try:
        batches = Cycle(data, advice="pass a list or lower `num`")
        trainer = _Stepper(model, optimizer, loss_fn, batches, ratios, accumulation_steps, scaler,
                           max_grad_norm, val_data, autocast_dtype, device)
        return range_test(trainer, start=start, end=end, num=num, beta=beta, threshold=threshold,
                          stop_on_divergence=stop_on_divergence, progress=progress)
    finally:
        snapshot.restore(model, optimizer, scaler=scaler)
        restore_modes(model, modes)
        with torch.no_grad():
            for p, value in zip(outside, outside_values, strict=True):
                p.copy_(value)
        for p, grad in zip(params, grads, strict=True):
            p.grad = None if grad is None else grad.to(p.device)
        if snapshot.path is not None:
            with contextlib.suppress(OSError):
                snapshot.path.unlink()


def _to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True) if batch.device != device else batch
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # namedtuple
        return type(batch)(*(_to_device(item, device) for item in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(item, device) for item in batch)
    if isinstance(batch, dict):
        return {key: _to_device(value, device) for key, value in batch.items()}
    return batch


def _check_loss(loss: Any) -> torch.Tensor:
    if not isinstance(loss, torch.Tensor):
        raise TypeError(
            f"`loss_fn` must return the loss as a scalar tensor, but got {type(loss).__name__} {loss!r}"
        )
    if loss.numel() != 1:
        raise TypeError(
            f"`loss_fn` must return a scalar tensor (reduce the loss, e.g. .mean()), but got "
            f"a tensor of shape {tuple(loss.shape)}"
        )
    return loss.reshape(())


class _Stepper:
    """``step(lr) -> loss``: one optimizer step at rate ``lr``."""

    def __init__(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                 loss_fn: Callable[[torch.nn.Module, Any], torch.Tensor], batches: Cycle,
                 ratios: list[float], accumulation_steps: int, scaler: Any,
                 max_grad_norm: float | None, val_data: Iterable[Any] | None,
                 autocast_dtype: torch.dtype | None, device: torch.device) -> None:
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.batches = batches
        self.ratios = ratios
        self.accumulation_steps = accumulation_steps
        self.scaler = scaler
        self.max_grad_norm = max_grad_norm
        self.val_data = val_data
        self.autocast_dtype = autocast_dtype
        self.device = device
        self.skipped = 0
        self.needs_closure = needs_closure(optimizer)

    def _autocast(self) -> Any:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def __call__(self, lr: float) -> float:
        set_lrs(self.optimizer, [lr * ratio for ratio in self.ratios])
        self.model.train()
        for _ in range(MAX_SKIPPED_STEPS):
            loss = self._one_step()
            if loss is not None:
                if self.val_data is not None:
                    return self._validation_loss()
                return loss
            self.skipped += 1
        logger.info("find_lr: the GradScaler skipped %d steps in a row at lr=%.3g", MAX_SKIPPED_STEPS, lr)
        return math.nan

    def _forward_backward(self, batches: Iterable[Any]) -> float:
        """Fresh gradients of the micro-batches; their mean loss."""
        self.optimizer.zero_grad(set_to_none=True)
        total = torch.zeros((), device=self.device, dtype=torch.float64)
        for batch in batches:
            with self._autocast():
                loss = _check_loss(self.loss_fn(self.model, _to_device(batch, self.device)))
            total = total + loss.detach().to(total.dtype)
            scaled = loss / self.accumulation_steps
            if self.scaler is not None:
                scaled = self.scaler.scale(scaled)
            scaled.backward()
        return float(total) / self.accumulation_steps

    def _clip(self) -> None:
        if self.max_grad_norm is not None:
            params = [p for group in self.optimizer.param_groups for p in group["params"]]
            torch.nn.utils.clip_grad_norm_(params, self.max_grad_norm)

    def _one_step(self) -> float | None:
        """One optimizer step; the mean micro-batch loss, or None when the scaler skipped it."""
        if self.needs_closure:
            return self._closure_step()
        mean = self._forward_backward(next(self.batches) for _ in range(self.accumulation_steps))
        if not math.isfinite(mean):
            return mean
        if self.scaler is None:
            self._clip()
            self.optimizer.step()
            return mean
        if self.max_grad_norm is not None:
            self.scaler.unscale_(self.optimizer)
            self._clip()
        scale_before = float(self.scaler.get_scale())
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if float(self.scaler.get_scale()) < scale_before:
            return None
        return mean

    def _closure_step(self) -> float:
        """A step of an optimizer that evaluates the loss itself, maybe several times (LBFGS):
        every evaluation sees the same batches; the loss recorded is the first, before the
        update."""
        batches = [next(self.batches) for _ in range(self.accumulation_steps)]
        losses: list[float] = []

        def closure() -> torch.Tensor:
            losses.append(self._forward_backward(batches))
            if math.isfinite(losses[-1]):
                self._clip()
            return torch.tensor(losses[-1])

        self.optimizer.step(closure)
        if not losses:
            raise TypeError(f"`optimizer` {type(self.optimizer).__name__}.step(closure) never "
                            "called the closure, so no loss was measured")
        return losses[0]

    @torch.no_grad()
    def _validation_loss(self) -> float:
        assert self.val_data is not None
        self.model.eval()
        total, count = 0.0, 0
        try:
            for batch in self.val_data:
                with self._autocast():
                    loss = _check_loss(self.loss_fn(self.model, _to_device(batch, self.device)))
                total += float(loss)
                count += 1
        finally:
            self.model.train()
        if count == 0:
            raise ValueError(f"`val_data` must yield at least one batch, but got val_data={self.val_data!r}")
        return total / count
