"""A divergence-aware pruner: diverged trials stop at once, the rest race by successive halving.

Two rules, checked whenever a trial reports:

1. **Divergence.** A non-finite reported value prunes the trial at once. lrkit's trial
   object records the value (``inf``), the rate and ``lrkit:diverged`` on the trial, and the
   trial ends PRUNED, never FAIL: Optuna's samplers ignore FAIL trials, so a failed
   divergence would keep them proposing the same cliff.
2. **Successive halving among the live trials (asynchronous, like ASHA).** Rungs sit at the
   fractions ``min_fraction * eta**k`` of ``total_steps`` (1/9 and 1/3 for the defaults). When
   a trial crosses a rung it is compared with every trial, finished or running, that crossed
   the same rung, on the value it reported there; it goes on when it ranks in the best
   ``ceil(n / eta)`` of those ``n >= min_trials`` trials (``min_trials = eta`` by default:
   the first trials stop at the rung until enough have reached it to compare), or when its
   value is within ``tolerance`` of the value ranked last among the survivors,

       value <= kth_best + tolerance * |kth_best|

   which keeps noisy curves from being cut by one unlucky batch. lrkit's trials report the
   mean loss over the window since their previous report, not one batch's loss.

>>> import optuna
>>> pruner = DivergencePruner(total_steps=90)
>>> pruner.rung_steps()
[9, 29]
"""

from __future__ import annotations

import math
from typing import Any

from lrkit._optional import require
from lrkit._validation import check_int, check_nonnegative, check_range

optuna = require("optuna", "lrkit.tune")


class DivergencePruner(optuna.pruners.BasePruner):
    """Prune diverged trials at once; successive halving among the others.

    Args:
        total_steps: steps of one full run; rungs are fractions of it. When None it is read
            from the study (the last step of the longest finished trial) once one exists.
        eta: keep the best ``1/eta`` at each rung (default 3).
        min_fraction: the first rung, as a fraction of ``total_steps`` (default 1/9).
        tolerance: relative slack that keeps near-ties alive (default 0.02).
        min_trials: a trial goes past a rung only when at least this many trials (itself
            included) reached it (default ``eta``), so that no run is taken to the end
            before it has been compared with others; early trials stop at the first rung.

    Example with plain Optuna:

    >>> import optuna
    >>> study = optuna.create_study(pruner=DivergencePruner(total_steps=30))
    >>> def objective(trial):
    ...     lr = trial.suggest_float("lr", 1e-3, 10.0, log=True)
    ...     w = 5.0
    ...     for step in range(30):
    ...         w -= lr * 2 * w
    ...         trial.report(w * w, step)
    ...         if trial.should_prune():
    ...             raise optuna.TrialPruned()
    ...     return w * w
    >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
    >>> study.optimize(objective, n_trials=5)
    >>> len(study.trials)
    5
    """

    def __init__(self, total_steps: int | None = None, *, eta: int = 3,
                 min_fraction: float = 1 / 9, tolerance: float = 0.02,
                 min_trials: int | None = None) -> None:
        self.total_steps = None if total_steps is None else check_int("total_steps", total_steps, minimum=1)
        self.eta = check_int("eta", eta, minimum=2)
        self.min_fraction = check_range("min_fraction", min_fraction, 0.0, 1.0, low_open=True,
                                        high_open=True)
        self.tolerance = check_nonnegative("tolerance", tolerance)
        self.min_trials = self.eta if min_trials is None else check_int("min_trials", min_trials,
                                                                        minimum=1)

    def rung_steps(self, total_steps: int | None = None) -> list[int]:
        """The step indices (0-based) at which trials are compared."""
        total = total_steps if total_steps is not None else self.total_steps
        if total is None:
            return []
        steps: list[int] = []
        fraction = self.min_fraction
        while fraction < 1.0 - 1e-9:
            step = max(0, math.ceil(fraction * total) - 1)
            if step < total - 1 and (not steps or step > steps[-1]):
                steps.append(step)
            fraction *= self.eta
        return steps

    def prune(self, study: Any, trial: Any) -> bool:
        values = trial.intermediate_values
        if not values:
            return False
        steps = sorted(values)
        last = steps[-1]
        if not math.isfinite(values[last]):
            return True
        total = self.total_steps or _infer_total_steps(study)
        rungs = self.rung_steps(total)
        previous = steps[-2] if len(steps) > 1 else -1
        crossed = [r for r in rungs if previous < r <= last]
        if not crossed:
            return False
        rung = crossed[-1]
        next_rung = next((r for r in rungs if r > rung), math.inf)
        mine = values[last]
        others = []
        for other in study.get_trials(deepcopy=False):
            if other.number == trial.number:
                continue
            value = _value_at_rung(other.intermediate_values, rung, next_rung)
            if value is not None:
                others.append(value)
        if len(others) + 1 < self.min_trials:
            return True  # too few trials got this far to tell whether this one should go on
        ranked = sorted(others + [mine])
        keep = max(1, math.ceil(len(ranked) / self.eta))
        kth = ranked[keep - 1]
        return not mine <= kth + self.tolerance * abs(kth)


def _value_at_rung(values: dict[int, float], rung: int, next_rung: float) -> float | None:
    """The first value a trial reported at or after ``rung`` (and before the next rung)."""
    candidates = [s for s in values if rung <= s < next_rung]
    if not candidates:
        return None
    value = values[min(candidates)]
    return value if not math.isnan(value) else math.inf


def _infer_total_steps(study: Any) -> int | None:
    attr = study.user_attrs.get("lrkit:total_steps")
    if attr:
        return int(attr)
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    lengths = [max(t.intermediate_values) + 1 for t in complete if t.intermediate_values]
    return max(lengths) if lengths else None
