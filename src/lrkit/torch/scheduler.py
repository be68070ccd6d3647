"""``ScheduleLR``: a PyTorch scheduler that sets every group's rate from a pure schedule.

``lr_group = base_lr_group * scale * plateau.scale * schedule(step)``

Unlike torch's chainable schedulers it never reads ``param_group["lr"]`` back (the base
rates are read once, at construction: each group's ``initial_lr`` when a torch scheduler
built before it stored one, as torch's schedulers do, else its ``lr``), has no recursion,
and its whole state is the step (plus the schedule's text, the scale, the base rates and
the plateau's counters), so a resumed run gets bit-identical rates. Like torch's
schedulers it stores each group's base rate as ``initial_lr`` where none is stored yet, so
a torch scheduler chained after it (``SequentialLR``) starts from the same base.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.optim.lr_scheduler import LRScheduler

from lrkit._validation import check_int, check_positive
from lrkit.schedules.base import Schedule
from lrkit.schedules.parsing import as_schedule
from lrkit.schedules.plateau import ReduceOnPlateau
from lrkit.torch.groups import check_group_lrs, read_base_lrs

__all__ = ["ScheduleLR"]

ScheduleLike = Schedule | str | Callable[[int], float]


class ScheduleLR(LRScheduler):
    """Drive an optimizer's rates with an lrkit schedule.

    Args:
        optimizer: any ``torch.optim.Optimizer``; each group's current ``lr`` is read once
            as its base rate (float or tensor; a tensor rate is then updated in place), or
            its ``initial_lr`` where a torch scheduler built before (a warmup in a
            ``SequentialLR``) has stored one, as torch's own schedulers do.
        schedule: a :class:`~lrkit.schedules.Schedule`, its text (``"warmup(100,
            cosine(10000))"``), or a list of those with one entry per parameter group. A plain
            callable ``step -> multiplier`` also works but cannot be checked on resume.
        plateau: an optional :class:`~lrkit.schedules.ReduceOnPlateau`; feed it with
            :meth:`report` and its scale multiplies the schedule.
        scale: a multiplier of every group's rate for the rest of the run (settable; the
            Guard and autotrain lower or raise it while the schedule keeps its shape).

    Call ``scheduler.step()`` once after every ``optimizer.step()``, as with any torch
    scheduler. At construction the optimizer already holds the rate of update 0; after
    ``k`` calls it holds the rate of update ``k`` (``last_epoch == k``).

    >>> import torch
    >>> from lrkit.schedules import cosine, warmup
    >>> model = torch.nn.Linear(2, 1)
    >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> sched = ScheduleLR(opt, warmup(1, cosine(10)))
    >>> opt.param_groups[0]["lr"]
    0.05
    >>> opt.step(); sched.step(); opt.param_groups[0]["lr"]
    0.1
    >>> sched.state_dict()["step"], sched.state_dict()["schedule"]
    (1, 'warmup(1, cosine(10))')
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        schedule: ScheduleLike | Sequence[ScheduleLike],
        *,
        plateau: ReduceOnPlateau | None = None,
        scale: float = 1.0,
    ) -> None:
        # LRScheduler.__init__ is deliberately not called: it would step once, store
        # initial_lr in the param groups and wrap optimizer.step.
        self.optimizer = optimizer
        lrs = read_base_lrs(optimizer)
        self.base_lrs = check_group_lrs([float(group.get("initial_lr", lr))
                                         for group, lr in zip(optimizer.param_groups, lrs,
                                                              strict=True)])
        for group, base in zip(optimizer.param_groups, self.base_lrs, strict=True):
            # before the first rate is applied: a scheduler built next reads the base here
            group.setdefault("initial_lr", base)
        self.schedules, self._shared = _resolve(schedule, len(optimizer.param_groups))
        self._fns = [s._scalar if isinstance(s, Schedule) else s for s in self.schedules]
        if plateau is not None and not isinstance(plateau, ReduceOnPlateau):
            raise TypeError(
                f"`plateau` must be an lrkit.schedules.ReduceOnPlateau or None, but got "
                f"plateau={plateau!r}"
            )
        self.plateau = plateau
        self._scale = check_positive("scale", scale)
        self.last_epoch = 0
        self._step_count = 1
        self._last_lr: list[float] = []
        self._apply()

    # -- the rate ---------------------------------------------------------------------
    def _apply(self) -> None:
        factor = self._scale if self.plateau is None else self._scale * self.plateau.scale
        t = self.last_epoch
        groups = self.optimizer.param_groups
        if len(groups) != len(self.base_lrs):
            raise ValueError(
                f"`optimizer` must keep its {len(self.base_lrs)} parameter groups, but got "
                f"{len(groups)} (build a new ScheduleLR after add_param_group)"
            )
        if self._shared:  # one evaluation per step, however many groups
            multipliers = [self._fns[0](t)] * len(groups)
        else:
            multipliers = [fn(t) for fn in self._fns]
        last = []
        for group, base, multiplier in zip(groups, self.base_lrs, multipliers, strict=True):
            lr = float(base * factor * multiplier)
            current = group["lr"]
            if isinstance(current, torch.Tensor):
                current.fill_(lr)
            else:
                group["lr"] = lr
            last.append(lr)
        self._last_lr = last

    def step(self, epoch: None = None) -> None:  # type: ignore[override]
        """Advance one step and set the rate of the next update."""
        if epoch is not None:
            raise TypeError(
                "`epoch` must be None: ScheduleLR.step() takes no step number, but got "
                f"epoch={epoch!r} (to jump, load a state_dict with the step you want)"
            )
        self.last_epoch += 1
        self._step_count += 1
        self._apply()

    def get_lr(self) -> list[float]:
        """The rates of the current step, one per group (computed, never read back)."""
        factor = self._scale if self.plateau is None else self._scale * self.plateau.scale
        return [float(base * factor * fn(self.last_epoch))
                for base, fn in zip(self.base_lrs, self._fns, strict=True)]

    def get_last_lr(self) -> list[float]:
        """The rates last written to the optimizer, one per group."""
        return list(self._last_lr)

    @property
    def scale(self) -> float:
        """A multiplier of every group's rate; setting it re-applies the current step at once."""
        return self._scale

    @scale.setter
    def scale(self, value: float) -> None:
        self._scale = check_positive("scale", value)
        self._apply()

    def report(self, metric: float) -> float:
        """Feed the plateau controller one metric value; returns its (new) scale.

        The new rate applies immediately, to the next update.
        """
        if self.plateau is None:
            raise ValueError(
                "`plateau` must be set to report a metric, but got plateau=None "
                "(pass plateau=ReduceOnPlateau(...) to ScheduleLR)"
            )
        scale = self.plateau.report(metric)
        self._apply()
        return scale

    # -- checkpoints ------------------------------------------------------------------
    def schedule_text(self) -> str | list[str | None] | None:
        """The schedule as text (a list for per-group schedules; None for plain callables)."""
        texts = [str(s) if isinstance(s, Schedule) else None for s in self.schedules]
        if self._shared:
            return texts[0]
        return texts

    def state_dict(self) -> dict[str, Any]:
        """``{"step", "schedule", "scale", "base_lrs", "plateau"}``: plain Python values."""
        return {
            "step": self.last_epoch,
            "schedule": self.schedule_text(),
            "scale": self._scale,
            "base_lrs": list(self.base_lrs),
            "plateau": None if self.plateau is None else self.plateau.state_dict(),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Continue from a saved state; the optimizer gets the saved step's rates at once.

        Raises ``ValueError`` if the saved schedule text differs from this scheduler's (to
        continue with a new schedule on purpose, overwrite ``state_dict["schedule"]``).
        """
        if not isinstance(state_dict, dict) or "step" not in state_dict:
            raise ValueError(
                "`state_dict` must come from ScheduleLR.state_dict(), but got "
                f"state_dict={state_dict!r}"
            )
        saved = state_dict.get("schedule")
        mine = self.schedule_text()
        if saved is not None and mine is not None and saved != mine:
            raise ValueError(
                f"`state_dict` must be saved with the same schedule ({mine!r}), but got "
                f"schedule={saved!r}"
            )
        base_lrs = state_dict.get("base_lrs", self.base_lrs)
        if len(base_lrs) != len(self.optimizer.param_groups):
            raise ValueError(
                f"`base_lrs` must have one rate per parameter group "
                f"({len(self.optimizer.param_groups)}), but got base_lrs={base_lrs!r}"
            )
        plateau_state = state_dict.get("plateau")
        if plateau_state is not None:
            if self.plateau is None:
                raise ValueError(
                    "`plateau` must be set to load a state saved with one, but got plateau=None"
                )
            self.plateau.load_state_dict(plateau_state)
        self.last_epoch = check_int("step", state_dict["step"], minimum=0)
        self._step_count = self.last_epoch + 1
        self._scale = check_positive("scale", state_dict.get("scale", 1.0))
        self.base_lrs = check_group_lrs([float(lr) for lr in base_lrs])
        self._apply()

    def __repr__(self) -> str:
        return (
            f"ScheduleLR(step={self.last_epoch}, schedule={self.schedule_text()!r}, "
            f"scale={self._scale!r}, base_lrs={self.base_lrs!r})"
        )



def _resolve(schedule: Any, groups: int) -> tuple[list[Any], bool]:
    """One schedule per group, and whether a single one was given for all of them."""
    if isinstance(schedule, (Schedule, str)) or (callable(schedule) and not isinstance(
            schedule, Sequence)):
        return [as_schedule(schedule)] * groups, True
    if isinstance(schedule, Sequence):
        if len(schedule) != groups:
            raise ValueError(
                f"`schedule` must have one entry per parameter group ({groups}), but got "
                f"{len(schedule)} entries: schedule={list(schedule)!r}"
            )
        return [as_schedule(item) for item in schedule], False
    raise TypeError(
        f"`schedule` must be an lrkit schedule, its text or a list of them, but got "
        f"schedule={schedule!r}"
    )
