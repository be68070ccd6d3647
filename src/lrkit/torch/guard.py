"""``Guard``: watch a PyTorch training loop and recover from divergence without losing the run.

One call per step replaces ``optimizer.step(); scheduler.step()``::

    guard = Guard(model, optimizer, scheduler)
    for batch in loader:
        optimizer.zero_grad()
        loss = loss_fn(model, batch)
        loss.backward()
        guard.step(loss)          # checks, steps (or skips / rolls back), snapshots

What ``step`` does, in order:

1. reads the loss (and, with ``check_grads=True`` or clipping, the gradient norm after
   ``scaler.unscale_``) and feeds them, with the rate, to a :class:`lrkit.Monitor`;
2. agrees on the decision with every other rank under ``torch.distributed`` (one
   ``all_reduce(MAX)`` of a small integer), so no rank rolls back alone;
3. healthy step: ``optimizer.step()`` (``scaler.step``/``update`` with AMP) and
   ``scheduler.step()``; every ``snapshot_every`` healthy steps a snapshot of model,
   optimizer, scheduler, GradScaler, RNG and monitor state is kept (CPU memory, or a file
   written atomically in ``directory``);
4. a diverged verdict (non-finite loss or gradient, a loss blow-up) is first met by
   skipping the update, since the weights are still intact (the batch is dropped);
5. more than ``max_skips`` such steps in a row, or the loss losing its progress: the last
   good snapshot is restored, the rate is multiplied by ``backoff`` for the rest of the run
   (unless it is the first rollback for ``forgive_after`` steps: a one-off fault retries at
   the same rate)
   (through ``ScheduleLR.scale``, a torch scheduler's ``base_lrs`` or the groups themselves,
   so the schedule keeps its shape and its clock), the batches since the snapshot are not
   replayed, and training continues; after ``max_retries`` rollbacks in a row without a
   new good snapshot it raises :class:`lrkit.DivergenceError` with the diagnosis.

Every event goes to the ``lrkit.guard`` logger, to ``guard.events`` and, when
``event_log`` is given, as one JSON line to that file.

>>> import torch
>>> model = torch.nn.Linear(3, 1)
>>> optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
>>> guard = Guard(model, optimizer, snapshot_every=10)
>>> for step in range(30):
...     optimizer.zero_grad()
...     loss = model(torch.ones(4, 3)).pow(2).mean()
...     if step == 15:
...         loss = loss * float("nan")      # a poisoned batch
...     loss.backward()
...     verdict = guard.step(loss)
>>> [event["event"] for event in guard.events]
['skip']
>>> guard.close()
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import numbers
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from lrkit._validation import check_int, check_positive, check_range
from lrkit.errors import DivergenceError
from lrkit.monitor import DIVERGED, TOO_HIGH, Monitor, Verdict
from lrkit.torch.groups import read_base_lrs, set_lrs
from lrkit.torch.state import Snapshot

logger = logging.getLogger("lrkit.guard")
logger.addHandler(logging.NullHandler())

__all__ = ["Guard"]

# decisions, ordered so that the most cautious one wins an all_reduce(MAX) across ranks
_OK, _HOLD, _SKIP, _ROLLBACK = 0, 1, 2, 3
_NON_FINITE = ("non_finite_loss", "non_finite_grad", "non_finite_update")
# the rates torch schedulers keep in the parameter groups (OneCycleLR reads all of them)
_GROUP_RATES = ("lr", "initial_lr", "max_lr", "min_lr")


class Guard:
    """Watch a training loop, snapshot it, and recover from divergence.

    Args:
        model: the module being trained (under DDP, the wrapped module or the DDP wrapper).
        optimizer: its optimizer.
        scheduler: an optional ``lrkit.torch.ScheduleLR`` (its ``scale`` takes the
            backoff) or any torch ``LRScheduler`` (the rates it computes from take it:
            ``base_lrs``, OneCycleLR's and CyclicLR's peaks, a SequentialLR's parts); stepped by
            :meth:`step`. A ``ReduceLROnPlateau`` is not stepped (call its
            ``step(metric)`` yourself); the backoff goes to the groups it reads.
        scaler: an optional ``torch.amp.GradScaler``; its skipped steps are AMP's normal
            business, not divergence (a disabled scaler changes nothing).
        monitor: the :class:`lrkit.Monitor` to use (a default one when None).
        snapshot_every: healthy steps between snapshots.
        keep: snapshots kept (the newest may already be touched by a divergence that was
            building up; a second failed retry falls back to the one before).
        directory: keep snapshots as files here (written atomically) instead of in CPU memory.
        backoff: the rate factor applied at a rollback, for the rest of the run.
        forgive_after: a rollback with no other rollback in the previous ``forgive_after``
            steps retries at the same rate (a one-off fault -- a bad batch, a numeric glitch,
            a brief spike -- does not need a lower rate, and the skipped batches will not
            come back); every other rollback multiplies the rate by ``backoff``. Default
            ``10 * snapshot_every``; 0 backs off at every rollback.
        max_retries: rollbacks in a row (without a new good snapshot) before giving up.
        max_skips: non-finite steps in a row that are skipped before rolling back.
        clip_grad_norm: clip the gradient to this total norm before the step (None: no clipping).
        check_grads: compute the gradient norm every step, so that a NaN gradient is
            caught before it reaches the weights (a skip instead of a rollback) and the
            monitor sees gradient-norm growth. It costs one pass over the gradients (about
            3% of a small MLP's step, see docs/benchmarks.md), so it is off by default;
            with ``clip_grad_norm`` the norm comes for free and is always checked.
        event_log: a JSONL file to append every event to.
        restore_rng: also put back the random generators at a rollback.
        distributed: agree on every decision across ranks (None: when
            ``torch.distributed`` is initialised).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: Any = None,
        *,
        scaler: Any = None,
        monitor: Monitor | None = None,
        snapshot_every: int = 100,
        keep: int = 2,
        directory: str | os.PathLike[str] | None = None,
        backoff: float = 0.5,
        forgive_after: int | None = None,
        max_retries: int = 3,
        max_skips: int = 1,
        clip_grad_norm: float | None = None,
        check_grads: bool = False,
        event_log: str | os.PathLike[str] | None = None,
        restore_rng: bool = True,
        distributed: bool | None = None,
    ) -> None:
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"`model` must be a torch.nn.Module, but got model={model!r}")
        read_base_lrs(optimizer)  # an optimizer, with groups, at finite rates
        if scheduler is not None:
            if not all(callable(getattr(scheduler, name, None))
                       for name in ("step", "state_dict", "load_state_dict")):
                raise TypeError(
                    f"`scheduler` must be a torch LRScheduler, ReduceLROnPlateau or "
                    f"lrkit.torch.ScheduleLR, but got scheduler={scheduler!r}"
                )
            if getattr(scheduler, "optimizer", optimizer) is not optimizer:
                raise ValueError(
                    f"`scheduler` must drive `optimizer`, but got scheduler={scheduler!r} "
                    f"built on another optimizer"
                )
        if scaler is not None and not all(
                callable(getattr(scaler, name, None))
                for name in ("scale", "unscale_", "step", "update", "is_enabled", "state_dict")):
            raise TypeError(f"`scaler` must be a torch.amp.GradScaler, but got scaler={scaler!r}")
        if monitor is not None and not isinstance(monitor, Monitor):
            raise TypeError(f"`monitor` must be an lrkit.Monitor or None, but got monitor={monitor!r}")
        self.model = model
        self.optimizer = optimizer
        self.scheduler = scheduler
        # ReduceLROnPlateau is driven by a metric the caller reports: the Guard leaves its
        # stepping to the caller and backs off through the groups it reads its rate from
        self._steps_scheduler = scheduler is not None and not isinstance(
            scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
        self.scaler = scaler
        self._amp = scaler is not None and scaler.is_enabled()
        self.monitor = monitor if monitor is not None else Monitor()
        options = check_options(snapshot_every=snapshot_every, keep=keep, backoff=backoff,
                                forgive_after=forgive_after, max_retries=max_retries,
                                max_skips=max_skips, directory=directory, event_log=event_log)
        self.snapshot_every = options["snapshot_every"]
        self.keep = options["keep"]
        self.backoff = options["backoff"]
        self.forgive_after = (10 * self.snapshot_every if options["forgive_after"] is None
                              else options["forgive_after"])
        self.max_retries = options["max_retries"]
        self.max_skips = options["max_skips"]
        self.clip_grad_norm = (
            None if clip_grad_norm is None else check_positive("clip_grad_norm", clip_grad_norm)
        )
        self.check_grads = bool(check_grads)
        self.restore_rng = bool(restore_rng)
        self.directory = None if directory is None else Path(directory)
        self._params = [p for p in model.parameters() if p.requires_grad]
        self._rank = 0
        if distributed is None:
            distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
        self.distributed = bool(distributed)
        if self.distributed:
            self._rank = torch.distributed.get_rank()
            backend = torch.distributed.get_backend()
            self._flag_device = (
                torch.device("cuda", torch.cuda.current_device()) if backend == "nccl"
                else torch.device("cpu")
            )
        self.events: list[dict[str, Any]] = []
        self._log_file = None
        if event_log is not None:
            path = Path(event_log)
            path.parent.mkdir(parents=True, exist_ok=True)
            self._log_file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self._step = 0
        self._scale = 1.0
        self._skips = 0
        self._retries = 0
        self._rollbacks = 0
        self._last_rollback_step: int | None = None
        self._since_snapshot = 0
        self._snapshots: list[Snapshot] = []
        self.last_verdict: Verdict = Verdict("ok", 0)
        self.snapshot()

    # ------------------------------------------------------------------ public
    @property
    def steps(self) -> int:
        """Loop steps handled so far (healthy, skipped and rolled back alike)."""
        return self._step

    @property
    def scale(self) -> float:
        """The product of every backoff applied so far (1.0 when none was)."""
        return self._scale

    @property
    def rollbacks(self) -> int:
        """Rollbacks performed so far."""
        return self._rollbacks

    def step(self, loss: Any, *, closure: Any = None) -> Verdict:
        """Check this step, then step the optimizer (and scheduler) or recover.

        Call it where you would call ``optimizer.step()`` (after ``loss.backward()``); with
        gradient accumulation call it once per optimizer step with the mean loss of the
        micro-batches. An optimizer that needs a closure (LBFGS) gets ``closure``:
        ``guard.step(closure(), closure=closure)`` (not with an enabled GradScaler, which
        cannot step through a closure). Returns the monitor's verdict of the step.
        """
        if closure is not None and self._amp:
            raise ValueError("`closure` cannot be used with an enabled GradScaler (it steps "
                             "the optimizer without one), but got a closure and scaler="
                             f"{self.scaler!r}")
        value = _to_float(loss)
        if self.scaler is not None and (self.clip_grad_norm is not None or self.check_grads):
            self.scaler.unscale_(self.optimizer)
        grad_norm = None
        if self.clip_grad_norm is not None:
            grad_norm = float(torch.nn.utils.clip_grad_norm_(self._params, self.clip_grad_norm))
        elif self.check_grads:
            grad_norm = _grad_norm(self._params)
        amp_overflow = (
            self._amp and grad_norm is not None and not math.isfinite(grad_norm)
            and math.isfinite(value)
        )
        if amp_overflow:  # the GradScaler skips this update and lowers its scale
            grad_norm = None
        verdict = self.monitor.update(value, grad_norm=grad_norm, lr=self._lr())
        decision = self._agree(self._decide(verdict))
        if decision in (_ROLLBACK, _SKIP):
            self._discard_step()
            if decision == _ROLLBACK:
                self._rollback(verdict)
            else:
                self._skips += 1
                self._event("skip", verdict, detail="the update was skipped; the batch is dropped")
            if self._steps_scheduler:
                self.scheduler.step()  # the schedule's clock is the loop's: it keeps going
        else:
            self._skips = 0
            if self._amp:
                scale_before = self.scaler.get_scale()
                self.scaler.step(self.optimizer)
                self.scaler.update()
                if self.scaler.get_scale() < scale_before:
                    logger.debug("step %d: GradScaler skipped the update (overflow)", self._step)
            elif closure is not None:
                self.optimizer.step(closure)
            else:
                self.optimizer.step()
            if self._steps_scheduler:
                self.scheduler.step()
            self._healthy(decision, verdict)
        self._step += 1
        self.last_verdict = verdict
        return verdict

    def observe(self, loss: Any, *, grad_norm: float | None = None, skipped: bool = False) -> Verdict:
        """The after-the-step form of :meth:`step`, for loops that step themselves (the
        Lightning callback): feed the loss of the step just taken; on divergence the last
        good snapshot is restored and the rate backed off. ``skipped=True`` says the
        update was withheld (a non-finite gradient), which only counts toward ``max_skips``.
        """
        value = _to_float(loss)
        verdict = self.monitor.update(value, grad_norm=grad_norm, lr=self._lr())
        decision = self._decide(verdict)
        if decision == _SKIP and not (skipped and verdict.cause in _NON_FINITE):
            decision = _ROLLBACK  # the update was applied: the weights may already be broken
        decision = self._agree(decision)
        if decision == _ROLLBACK:
            self._rollback(verdict)
        elif decision == _SKIP:
            self._skips += 1
            self._event("skip", verdict, detail="the update was skipped; the batch is dropped")
        else:
            self._skips = 0
            self._healthy(decision, verdict)
        self._step += 1
        self.last_verdict = verdict
        return verdict

    def snapshot(self, *, _completed: int | None = None) -> Snapshot:
        """Take a snapshot now (the guard also takes one at construction and every
        ``snapshot_every`` healthy steps). Its ``step`` is the number of loop steps done."""
        done = self._step if _completed is None else _completed
        extra = {"step": done, "monitor": self.monitor.state_dict(), "scale": self._scale}
        if self.directory is None:
            snap = Snapshot.take(self.model, self.optimizer, self.scheduler, self.scaler, extra=extra)
        else:
            suffix = f"-rank{self._rank}" if self.distributed else ""
            snap = Snapshot.take(self.model, self.optimizer, self.scheduler, self.scaler,
                                 directory=self.directory, name=f"guard-{done:09d}{suffix}.pt",
                                 extra=extra)
        if snap.path is not None:  # a snapshot of the same step was overwritten by this one
            self._snapshots = [s for s in self._snapshots if s.path != snap.path]
        self._snapshots.append(snap)
        while len(self._snapshots) > self.keep:
            old = self._snapshots.pop(0)
            if old.path is not None and old.path != snap.path and old.path.exists():
                old.path.unlink()
        self._since_snapshot = 0
        self._event("snapshot", None, level=logging.DEBUG, log_file=False)
        return snap

    def state_dict(self) -> dict[str, Any]:
        """The guard's own state for a checkpoint, plain Python values (loadable with
        ``torch.load(..., weights_only=True)``): the step, the backoff, the rollback history,
        the monitor's window and the events. The snapshots are not part of it."""
        return {"step": self._step, "scale": self._scale, "rollbacks": self._rollbacks,
                "retries": self._retries, "skips": self._skips,
                "since_snapshot": self._since_snapshot,
                "last_rollback_step": self._last_rollback_step,
                "monitor": self.monitor.state_dict(), "events": list(self.events)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Carry on from :meth:`state_dict`, after model, optimizer and scheduler were
        restored (the snapshots keep their cadence; a rollback before the next one goes
        back to the state resumed from)."""
        if not isinstance(state_dict, dict) or not {"monitor", "scale"} <= state_dict.keys():
            raise ValueError(
                f"`state_dict` must come from Guard.state_dict(), but got state_dict={state_dict!r}"
            )
        # every field read before any is set: a bad one leaves the guard as it was
        fields = {}
        for key, kind, default in (("step", int, 0), ("scale", float, None), ("rollbacks", int, 0),
                                   ("retries", int, 0), ("skips", int, 0),
                                   ("since_snapshot", int, 0)):
            value = state_dict.get(key, default)
            try:
                fields[key] = kind(value)
            except (TypeError, ValueError):
                raise ValueError(f"`state_dict` must come from Guard.state_dict(), but got "
                                 f"{key}={value!r}") from None
        self.monitor.load_state_dict(state_dict["monitor"])
        self._step = fields["step"]
        self._scale = fields["scale"]
        self._rollbacks = fields["rollbacks"]
        self._retries = fields["retries"]
        self._skips = fields["skips"]
        self._last_rollback_step = state_dict.get("last_rollback_step")
        self.events = list(state_dict.get("events", []))
        for old in self._snapshots:  # the construction's snapshot, a state now left behind
            if old.path is not None and old.path.exists():
                old.path.unlink()
        self._snapshots.clear()
        self.snapshot()
        self._since_snapshot = fields["since_snapshot"]

    def close(self) -> None:
        """Close the event log."""
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> Guard:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ decisions
    def _decide(self, verdict: Verdict) -> int:
        if verdict.status == DIVERGED:
            # the update of this step has not been applied yet: a single bad batch (or a
            # fault in one step) is dropped; a second one in a row means the weights
            # themselves are broken, and only a rollback helps
            return _SKIP if self._skips < self.max_skips else _ROLLBACK
        if verdict.status == TOO_HIGH or getattr(self.monitor, "candidate", None) == TOO_HIGH:
            return _HOLD  # do not snapshot a state that is (maybe) drifting up
        return _OK

    def _agree(self, decision: int) -> int:
        if not self.distributed:
            return decision
        flag = torch.tensor([decision], dtype=torch.int32, device=self._flag_device)
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        return int(flag.item())

    def _healthy(self, decision: int, verdict: Verdict) -> None:
        self._since_snapshot += 1
        if self._since_snapshot >= self.snapshot_every and decision == _OK:
            self.snapshot(_completed=self._step + 1)
            self._retries = 0

    def _discard_step(self) -> None:
        """Drop the gradients of a step that will not be applied."""
        if self.scaler is not None and (self.clip_grad_norm is not None or self.check_grads):
            self.scaler.update()  # closes the iteration opened by unscale_()
        self.optimizer.zero_grad(set_to_none=True)

    def _rollback(self, verdict: Verdict) -> None:
        self._retries += 1
        self._rollbacks += 1
        if self._retries > self.max_retries:
            self._event("give_up", verdict, level=logging.ERROR,
                        detail=f"{self.max_retries} rollbacks in a row did not recover")
            self.close()
            # the monitor counts from the snapshot it was rolled back to: the loop's step
            verdict = dataclasses.replace(verdict, step=self._step)
            raise DivergenceError(
                f"training diverged and {self.max_retries} rollbacks (rate x{self._scale:g}) "
                f"did not recover: {verdict}; start from a lower rate, or allow more "
                f"rollbacks (max_retries) or a stronger backoff",
                diagnosis=verdict,
            )
        if self._retries > 1 and len(self._snapshots) > 1:
            # retrying from the same snapshot failed: it may already hold the divergence
            dropped = self._snapshots.pop()
            if dropped.path is not None and dropped.path.exists():
                dropped.path.unlink()
        snap = self._snapshots[-1]
        current = [{key: float(group[key]) for key in _GROUP_RATES if key in group}
                   for group in self.optimizer.param_groups]
        snap.restore(self.model, self.optimizer, None, self.scaler, rng=self.restore_rng)
        payload_extra = snap.extra
        self.monitor.load_state_dict(payload_extra["monitor"])
        recent = (
            self._last_rollback_step is not None
            and self._step - self._last_rollback_step <= self.forgive_after
        )
        factor = self.backoff if recent or self.forgive_after == 0 else 1.0
        self._apply_backoff(current, factor)
        self._last_rollback_step = self._step
        self._skips = 0
        self._since_snapshot = 0
        rate = (f"rate x{factor:g} (now x{self._scale:g} of the schedule) for the rest of the run"
                if factor != 1.0 else "same rate (first rollback in a while)")
        self._event(
            "rollback", verdict, level=logging.WARNING,
            detail=f"restored the snapshot of step {payload_extra['step']}, {rate}",
            restored_step=payload_extra["step"], retry=self._retries, backoff=factor,
        )

    def _apply_backoff(self, current: list[dict[str, Any]], factor: float) -> None:
        """Scale the rate for the rest of the run, keeping the schedule's shape and clock.
        The restored optimizer holds the snapshot's rates; put back the current ones."""
        self._scale *= factor
        scheduler = self.scheduler
        if scheduler is not None:
            _scale_scheduler(scheduler, factor)
            if _has_settable_scale(scheduler):
                return  # a ScheduleLR's scale re-applies the current step itself
        for group, rates in zip(self.optimizer.param_groups, current, strict=True):
            group.update({key: rate * factor for key, rate in rates.items() if key != "lr"})
        set_lrs(self.optimizer, [rates["lr"] * factor for rates in current])
        if hasattr(scheduler, "_last_lr"):
            scheduler._last_lr = [float(group["lr"]) for group in self.optimizer.param_groups]

    # ------------------------------------------------------------------ events
    def _lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def _event(self, kind: str, verdict: Verdict | None, *, level: int = logging.WARNING,
               log_file: bool = True, detail: str = "", **fields: Any) -> None:
        event: dict[str, Any] = {"event": kind, "step": self._step, "time": time.time(),
                                 "lr": self._lr(), "scale": self._scale}
        if verdict is not None:
            event.update(status=verdict.status, cause=verdict.cause,
                         evidence=[e.to_dict() for e in verdict.evidence])
        if detail:
            event["detail"] = detail
        event.update(fields)
        if self.distributed:
            event["rank"] = self._rank
        if kind != "snapshot":
            self.events.append(event)
        if logger.isEnabledFor(level):
            reason = ""
            if verdict is not None and verdict.evidence:
                first = verdict.evidence[0]
                reason = f" [{first.check}] {first.detail}"
            logger.log(level, "step %d: %s%s%s", self._step, kind, reason,
                       f"; {detail}" if detail else "")
        if log_file and self._log_file is not None:
            self._log_file.write(json.dumps(_finite(event), default=repr) + "\n")
            self._log_file.flush()


def _to_float(loss: Any) -> float:
    if isinstance(loss, torch.Tensor):
        if loss.numel() != 1:
            raise TypeError(f"`loss` must be a scalar, but got loss of shape {tuple(loss.shape)}")
        return float(loss.detach())
    if isinstance(loss, numbers.Real) and not isinstance(loss, bool):
        return float(loss)
    raise TypeError(f"`loss` must be a scalar tensor or a float, but got loss={loss!r}")


def _grad_norm(params: Iterable[torch.nn.Parameter]) -> float:
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return 0.0
    norms = torch._foreach_norm(grads)
    try:
        stacked = torch.stack(norms)
    except RuntimeError:  # gradients on several devices
        stacked = torch.stack([n.to(norms[0].device) for n in norms])
    return float(torch.linalg.vector_norm(stacked))


def check_options(**options: Any) -> dict[str, Any]:
    """The Guard's keyword options checked and normalised, each error naming its option;
    shared with the Lightning callback, which must check them before ``fit`` starts."""
    checks = {
        "snapshot_every": lambda v: check_int("snapshot_every", v, minimum=1),
        "keep": lambda v: check_int("keep", v, minimum=1),
        "backoff": lambda v: check_range("backoff", v, 0.0, 1.0, low_open=True, high_open=True),
        "forgive_after": lambda v: None if v is None else check_int("forgive_after", v, minimum=0),
        "max_retries": lambda v: check_int("max_retries", v, minimum=0),
        "max_skips": lambda v: check_int("max_skips", v, minimum=0),
        "directory": lambda v: _check_path("directory", v, folder=True),
        "event_log": lambda v: _check_path("event_log", v, folder=False),
    }
    return {name: checks[name](value) if name in checks else value
            for name, value in options.items()}


def _check_path(name: str, value: Any, *, folder: bool) -> Any:
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"`{name}` must be a path or None, but got {name}={value!r}")
    path = Path(value)
    if folder and path.exists() and not path.is_dir():
        raise ValueError(f"`{name}` must be a folder, but got {name}={str(value)!r}, a file")
    if not folder and path.is_dir():
        raise ValueError(f"`{name}` must be a file path, but got {name}={str(value)!r}, a folder")
    return value


def _scale_scheduler(scheduler: Any, factor: float) -> None:
    """Multiply the rates a torch scheduler (and those it chains) computes the next ones from:
    ``base_lrs``, CyclicLR's ``max_lrs``, the floors ``eta_min`` (cosine annealing, with or
    without restarts) and ``min_lrs`` (ReduceLROnPlateau), a chained ``ScheduleLR``'s
    ``scale``. A floor left as it was would pull the backed-off rate back up towards it."""
    for child in getattr(scheduler, "_schedulers", ()):
        _scale_scheduler(child, factor)
    if _has_settable_scale(scheduler):
        scheduler.scale = scheduler.scale * factor
        return
    for name in ("base_lrs", "max_lrs", "min_lrs"):
        if hasattr(scheduler, name):
            setattr(scheduler, name, [lr * factor for lr in getattr(scheduler, name)])
    if isinstance(getattr(scheduler, "eta_min", None), (int, float)):
        scheduler.eta_min = scheduler.eta_min * factor


def _has_settable_scale(scheduler: Any) -> bool:
    prop = getattr(type(scheduler), "scale", None)
    return isinstance(prop, property) and prop.fset is not None


def _finite(value: Any) -> Any:
    """``value`` with non-finite floats as the strings "nan", "inf", "-inf" (strict JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value
