"""The trial object an lrkit objective receives: the proposed ``lr`` and ``report(step, loss)``.

``report`` is called after every update (cheap: it only appends to a list). It writes to the
study only every ``report_every`` steps and at the pruner's rungs, as the mean loss over the
steps since the previous write, so a study of thousands of steps does not turn into
thousands of database writes and one noisy batch does not decide a comparison.

Divergence is caught at once, locally: a non-finite loss, or a loss that stays above

    first + blowup * max(|first|, first - lowest)

for ``patience`` reports in a row (a scale-free test that also works for negative losses),
records ``inf`` at that step plus ``lrkit:diverged`` and the offending loss on the trial,
and raises :class:`Diverged`, a subclass of ``optuna.TrialPruned``: the trial ends PRUNED.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from lrkit._optional import require
from lrkit._validation import check_int, check_number

optuna = require("optuna", "lrkit.tune")


class Diverged(optuna.TrialPruned):
    """The trial's loss became non-finite or blew up; it is recorded as PRUNED."""


class BudgetExhausted(optuna.TrialPruned):
    """The study's budget of full-run equivalents ran out during this trial."""


class Trial:
    """What an lrkit objective receives.

    Attributes:
        lr: the proposed learning rate (an Optuna parameter named ``lr``, log scale).
        params: every parameter of the trial (``lr`` and the user's own choices).
        number: the Optuna trial number.
        optuna: the underlying ``optuna.Trial``.

    Other dimensions go through the usual Optuna calls, for example
    ``trial.suggest_float("warmup_fraction", 0.0, 0.2)`` or
    ``trial.suggest_categorical("schedule", ["cosine", "linear"])``.
    """

    def __init__(self, optuna_trial: Any, *, total_steps: int | None = None,
                 checkpoints: Iterable[int] = (), report_every: int | None = None,
                 budget_steps: int | None = None, blowup: float = 4.0, patience: int = 3,
                 prune: bool = True) -> None:
        self.optuna = optuna_trial
        self.total_steps = total_steps
        self._checkpoints = sorted(set(checkpoints))
        if report_every is None:
            report_every = max(1, total_steps // 20) if total_steps else 10
        self._report_every = report_every
        self._budget_steps = budget_steps
        self._blowup = blowup
        self._patience = patience
        self._prune = prune
        self._window: list[float] = []
        self._last_write = -1
        self._last_step = -1
        self._first: float | None = None
        self._lowest = math.inf
        self._above = 0
        self.steps = 0
        self.diverged = False

    @property
    def lr(self) -> float:
        return float(self.optuna.params["lr"])

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.optuna.params)

    @property
    def number(self) -> int:
        return int(self.optuna.number)

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False,
                      step: float | None = None) -> float:
        return self.optuna.suggest_float(name, low, high, log=log, step=step)

    def suggest_int(self, name: str, low: int, high: int, *, log: bool = False,
                    step: int = 1) -> int:
        return self.optuna.suggest_int(name, low, high, log=log, step=step)

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        return self.optuna.suggest_categorical(name, choices)

    def wants_validation(self, step: int) -> bool:
        """True when the report of ``step`` is compared with other trials (a pruner rung).

        An objective that has a validation loss can compute it only at these steps and pass
        it as ``report(step, loss, validation=...)``, so that trials are raced on the same
        criterion as their final value.
        """
        return any(self._last_write < c <= step for c in self._checkpoints)

    def report(self, step: int, loss: Any, *, validation: Any = None) -> None:
        """Record the training loss after update ``step`` (0-based).

        ``validation`` (optional) is written instead of the mean training loss when this
        step's report is written (see :meth:`wants_validation`).

        Raises ``optuna.TrialPruned`` (:class:`Diverged` for a divergence) when the trial
        should stop; let it propagate out of the objective.
        """
        step = check_int("step", step, minimum=0)
        if step <= self._last_step:
            raise ValueError(f"`step` must increase from one report to the next, but got "
                             f"step={step} after step={self._last_step}")
        value = check_number("loss", loss)
        self._last_step = step
        self.steps = step + 1
        if not math.isfinite(value):
            self._diverge(step, value)
        if self._first is None:
            self._first = value
        self._lowest = min(self._lowest, value)
        limit = self._first + self._blowup * max(abs(self._first), self._first - self._lowest)
        self._above = self._above + 1 if value > limit else 0
        if self._above >= self._patience:
            self._diverge(step, value)
        self._window.append(value)
        crossed = any(self._last_write < c <= step for c in self._checkpoints)
        if crossed or step - self._last_write >= self._report_every:
            written = self._write(step, None if validation is None else check_number("validation", validation))
            if self._prune and self.optuna.should_prune():
                if self._above and written > limit:
                    # cut while above the blow-up limit, before `patience` reports could
                    # confirm it: it was blowing up, and as a plain pruned trial its
                    # last value (huge, but finite) could still rank as the best. Judged
                    # on the value written, so one noisy batch does not make a divergence.
                    self._diverge(step, written)
                raise optuna.TrialPruned(f"pruned at step {step}")
        more_to_come = self.total_steps is None or self.steps < self.total_steps
        if self._budget_steps is not None and self.steps >= self._budget_steps and more_to_come:
            self.flush()
            self.optuna.set_user_attr("lrkit:stopped", "budget")
            raise BudgetExhausted(f"the budget ran out at step {step}")

    def flush(self) -> None:
        """Write what is buffered since the last write (called when the trial ends)."""
        if self._window and self._last_step > self._last_write:
            self._write(self._last_step)

    def mark_diverged(self, step: int, value: float) -> None:
        """Record a divergence found outside ``report`` (e.g. a non-finite final loss)."""
        self.diverged = True
        self._window.clear()
        self.optuna.report(math.inf, max(step, self._last_write + 1, 0))
        self._last_write = max(step, self._last_write + 1)
        self.optuna.set_user_attr("lrkit:diverged", True)
        self.optuna.set_user_attr("lrkit:diverged_loss", repr(value))
        self.optuna.set_user_attr("lrkit:diverged_step", int(step))

    def _diverge(self, step: int, value: float) -> None:
        self.mark_diverged(step, value)
        raise Diverged(f"loss {value!r} at step {step} at lr={self.lr:.3g}")

    def _write(self, step: int, value: float | None = None) -> float:
        """Report ``value`` (default: the mean of the losses since the last write) at
        ``step``; returns what was reported."""
        if value is None:
            value = sum(self._window) / len(self._window)
        elif not math.isfinite(value):
            self._diverge(step, value)
        self._window.clear()
        self.optuna.report(value, step)
        self._last_write = step
        return value
