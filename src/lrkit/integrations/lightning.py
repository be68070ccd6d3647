"""A PyTorch Lightning callback: :class:`lrkit.torch.Guard` inside ``Trainer.fit``.

>>> from lrkit.integrations.lightning import LrkitGuard   # doctest: +SKIP
>>> trainer = lightning.Trainer(callbacks=[LrkitGuard(snapshot_every=100)])   # doctest: +SKIP

What it does at every optimizer step (Lightning keeps stepping the optimizer and the
schedulers itself):

* before the step (``on_before_optimizer_step``, gradients already unscaled under AMP): a
  non-finite gradient norm makes it withhold the update (the gradients are set to None,
  which torch optimizers skip), agreed across ranks; under ``16-mixed`` precision it is
  the GradScaler's overflow, its normal business, not a divergence;
* after the step (``on_train_batch_end``): the loss (the mean over accumulated
  micro-batches) goes to the Guard's :class:`lrkit.Monitor`; on divergence the last good
  snapshot of the LightningModule and optimizer is restored and the rate backed off
  (through ``ScheduleLR.scale`` or the schedulers' ``base_lrs``); after ``max_retries``
  rollbacks in a row ``lrkit.DivergenceError`` ends ``fit``.

Events are logged to ``lrkit.guard``, kept in ``callback.events`` and, with
``event_log=``, appended to a JSONL file. Requires ``pip install 'lrkit[lightning]'``.
"""

from __future__ import annotations

import inspect
import math
from typing import Any

from lrkit._optional import require

_lightning = require("lightning", "lrkit.integrations.lightning")
import torch  # noqa: E402

from lrkit.torch.guard import Guard, _grad_norm, check_options  # noqa: E402

__all__ = ["LrkitGuard"]


class LrkitGuard(_lightning.pytorch.Callback):
    """Watch the learning rate and recover from divergence inside ``Trainer.fit``.

    Takes the keyword arguments of :class:`lrkit.torch.Guard` (``snapshot_every``,
    ``backoff``, ``forgive_after``, ``max_retries``, ``max_skips``, ``directory``,
    ``event_log``, ``monitor``, ...) except the ones Lightning owns (``scaler``,
    ``clip_grad_norm``: use the Trainer's ``precision`` and ``gradient_clip_val``;
    ``distributed``: read from the Trainer), checked when the callback is built.
    Only the first optimizer and its schedulers are guarded.
    """

    def __init__(self, **guard_kwargs: Any) -> None:
        for owned in ("scaler", "clip_grad_norm", "check_grads", "distributed"):
            if owned in guard_kwargs:
                raise ValueError(
                    f"`{owned}` must be left to the Lightning Trainer, but got "
                    f"{owned}={guard_kwargs[owned]!r}"
                )
        known = set(inspect.signature(Guard).parameters) - {"model", "optimizer", "scheduler"}
        unknown = sorted(set(guard_kwargs) - known)
        if unknown:
            raise TypeError(f"LrkitGuard takes Guard's keyword arguments ({', '.join(sorted(known))}), "
                            f"but got {', '.join(unknown)}")
        check_options(**guard_kwargs)  # here, not when fit starts
        self.guard_kwargs = guard_kwargs
        self.guard: Guard | None = None
        self._losses: list[float] = []
        self._stepped = False
        self._skipped = False
        self._grad_norm: float | None = None
        self._resumed: dict[str, Any] | None = None

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every event so far (skips, rollbacks, give-up)."""
        return [] if self.guard is None else self.guard.events

    # ------------------------------------------------------------------ hooks
    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        optimizer = trainer.optimizers[0]
        schedulers = [c.scheduler for c in trainer.lr_scheduler_configs
                      if getattr(c.scheduler, "optimizer", None) is optimizer]
        self.guard = Guard(
            pl_module, optimizer, schedulers[0] if schedulers else None,
            check_grads=False,
            distributed=trainer.world_size > 1 and torch.distributed.is_initialized(),
            **self.guard_kwargs,
        )
        if self._resumed:  # resuming from a checkpoint: carry on with the saved window
            self.guard.load_state_dict(self._resumed)
            self._resumed = None

    def on_before_optimizer_step(self, trainer: Any, pl_module: Any, optimizer: Any) -> None:
        guard = self.guard
        if guard is None or optimizer is not guard.optimizer:
            return
        params = [p for p in pl_module.parameters() if p.requires_grad]
        norm = _grad_norm(params)
        bad = guard._agree(0 if math.isfinite(norm) else 1)
        self._stepped = True
        self._skipped = bool(bad)
        self._grad_norm = norm if math.isfinite(norm) else None
        if bad:
            for p in params:
                p.grad = None  # torch optimizers leave parameters without gradient alone
            scaler = getattr(trainer.precision_plugin, "scaler", None)
            # an AMP overflow: the GradScaler skips the step and lowers its scale
            self._grad_norm = None if scaler is not None and scaler.is_enabled() else math.nan

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if self.guard is None:
            return
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if loss is None:
            return
        value = float(loss.detach()) if isinstance(loss, torch.Tensor) else float(loss)
        if pl_module.automatic_optimization:  # Lightning divides it for the backward pass
            value *= trainer.accumulate_grad_batches
        self._losses.append(value)
        if not self._stepped:
            return  # gradient accumulation: the optimizer has not stepped yet
        mean = sum(self._losses) / len(self._losses)
        self._losses = []
        self._stepped = False
        self.guard.observe(mean, grad_norm=self._grad_norm, skipped=self._skipped)

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        if self.guard is not None:
            self.guard.close()

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        if self.guard is None:
            return {}
        return self.guard.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        # the rate's backoff itself lives in the scheduler's (or optimizer's) own state,
        # which Lightning restores; the monitor's window and the history are ours
        self._resumed = dict(state_dict) if state_dict else None
