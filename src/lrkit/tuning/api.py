"""``lrkit.tune``: learning-rate search on Optuna, with lrkit's sampler and pruner."""

from __future__ import annotations

import json
import math
import operator
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lrkit._optional import require
from lrkit._progress import progress_bar
from lrkit._validation import check_callable, check_int, check_positive, check_seed

SAMPLERS = ("lrkit", "tpe", "random")
PRUNERS = ("lrkit", "median", "none")
DEFAULT_LR_RANGE = (1e-6, 10.0)


@dataclass(frozen=True)
class TuneResult:
    """What :func:`tune` returns.

    Attributes:
        best_lr: the rate of the best trial (:func:`lrkit.tuning.sampler.best_trial`: trials
            stopped at different steps are compared where both reported).
        best_value: its final value (the objective's return value).
        best_params: all parameters of the best trial.
        study: the ``optuna.Study`` (``optuna.load_study`` opens it again from its storage).
        trials: one dict per trial: number, lr, state (complete, pruned, diverged, failed,
            running, waiting), value, steps, params, note.
        cost: full-run equivalents spent (steps run / ``total_steps``), when known.
    """

    best_lr: float | None
    best_value: float | None
    best_params: dict[str, Any]
    study: Any = field(repr=False)
    trials: list[dict[str, Any]] = field(repr=False)
    cost: float | None = None

    @property
    def counts(self) -> dict[str, int]:
        """How many trials ended in each state."""
        out: dict[str, int] = {}
        for row in self.trials:
            out[row["state"]] = out.get(row["state"], 0) + 1
        return out

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary (without the per-trial rows). ``n_trials`` counts the trials
        that ran to their end (complete, pruned or diverged), as ``n_trials=`` does; failed,
        waiting and running ones are in ``counts``."""
        ended = sum(n for state, n in self.counts.items()
                    if state in ("complete", "pruned", "diverged"))
        return {"best_lr": self.best_lr, "best_value": self.best_value,
                "best_params": self.best_params, "study": self.study.study_name,
                "n_trials": ended, "counts": self.counts, "cost": self.cost}


def make_sampler(spec: Any, *, seed: int | None = None, start: float | None = None,
                 bracket: Sequence[float] | None = None) -> Any:
    """An Optuna sampler from ``"lrkit"``, ``"tpe"``, ``"random"`` or a sampler instance."""
    optuna = require("optuna", "lrkit.tune")
    if isinstance(spec, optuna.samplers.BaseSampler):
        return spec
    if spec == "lrkit":
        from lrkit.tuning.sampler import LRSampler

        return LRSampler(start=start, bracket=bracket, seed=seed)
    if spec == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if spec == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise ValueError(f"`sampler` must be one of {', '.join(map(repr, SAMPLERS))} or an Optuna "
                     f"sampler, but got sampler={spec!r}")


def make_pruner(spec: Any, *, total_steps: int | None = None) -> Any:
    """An Optuna pruner from ``"lrkit"``, ``"median"``, ``"none"`` or a pruner instance."""
    optuna = require("optuna", "lrkit.tune")
    if isinstance(spec, optuna.pruners.BasePruner):
        return spec
    if spec == "lrkit":
        from lrkit.tuning.pruner import DivergencePruner

        return DivergencePruner(total_steps=total_steps)
    if spec == "median":
        return optuna.pruners.MedianPruner()
    if spec in ("none", None):
        return optuna.pruners.NopPruner()
    raise ValueError(f"`pruner` must be one of {', '.join(map(repr, PRUNERS))} or an Optuna "
                     f"pruner, but got pruner={spec!r}")


def check_sampler_seed(seed: Any) -> int:
    """A seed the samplers take: they seed numpy, which takes 32 bits, so ``[0, 2**32)``."""
    seed = check_seed("seed", seed)
    if seed >= 2**32:
        raise ValueError(f"`seed` must be < 2**32, but got seed={seed}")
    return seed


def check_lr_range(lr_range: Any) -> tuple[float, float]:
    """``(low, high)`` rates with ``0 < low < high`` (values, not exponents)."""
    if lr_range is None:
        return DEFAULT_LR_RANGE
    if isinstance(lr_range, np.ndarray) and lr_range.ndim == 1:
        lr_range = tuple(lr_range.tolist())
    if not isinstance(lr_range, (tuple, list)) or len(lr_range) != 2:
        raise TypeError(f"`lr_range` must be a pair (low, high), but got lr_range={lr_range!r}")
    low, high = (check_positive("lr_range", v) for v in lr_range)
    if not low < high:
        raise ValueError(f"`lr_range` must satisfy low < high, but got lr_range={lr_range!r}")
    return low, high


def resume_lr_range(study: Any, lr_range: tuple[float, float] | None,
                    ) -> tuple[float, float] | None:
    """The rate range of ``study`` when it is resumed: the stored one
    (:func:`resume_setting`, equal within a relative 1e-9).

    ``lr_range=None`` takes the stored range (None for a new study); a different range is
    rejected, since the study's trials were sampled in the stored one.
    """
    value = resume_setting(
        study, "lr_range", "lrkit:lr_range", lr_range,
        same=lambda a, b: all(math.isclose(x, y, rel_tol=1e-9) for x, y in zip(a, b, strict=True)),
        show=lambda r: f"({float(r[0]):.4g}, {float(r[1]):.4g})")
    return None if value is None else (float(value[0]), float(value[1]))


def resume_setting(study: Any, name: str, key: str, value: Any, *, none_is_set: bool = False,
                   same: Callable[[Any, Any], bool] = operator.eq,
                   show: Callable[[Any], str] = repr) -> Any:
    """The value of setting ``name`` (user attribute ``key``) for ``study`` when it is
    resumed: ``value=None`` takes the stored one, a different value (not ``same``) raises
    ``ValueError`` (trials run under another setting are not comparable; use another
    study). A study without the attribute (a new one) takes ``value``; so does one that
    stored None, unless ``none_is_set`` (None is then a choice, such as the default
    schedule). ``show`` writes a value in the message.
    """
    if key not in study.user_attrs or (study.user_attrs[key] is None and not none_is_set):
        return value
    stored = study.user_attrs[key]
    if value is None or (stored is not None and same(value, stored)):
        return stored
    shown = "the default" if stored is None else show(stored)
    raise ValueError(f"`{name}` must stay {shown} to resume study {study.study_name!r}, "
                     f"whose trials were run with it, but got {name}={show(value)}; omit "
                     f"`{name}` to resume it, or use another `study_name`")


def check_range_left(study: Any, lr_range: tuple[float, float]) -> None:
    """Raise ``ValueError`` when every rate in ``lr_range`` is at or above the lowest rate
    that diverged and no trial finished without diverging: nothing useful is left to try."""
    from lrkit.tuning.sampler import best_trial, no_rate_left, range_exhausted

    trials = study.get_trials(deepcopy=False)
    cliff = range_exhausted(trials, lr_range[0])
    if cliff is None or best_trial(trials) is not None:
        return
    raise no_rate_left(cliff, lr_range)


def _no_budget_unit(budget: float, where: str = "") -> None:
    raise ValueError("`total_steps` must be given with a budget (its unit is one full run of "
                     f"total_steps steps), but got total_steps=None, budget={budget}{where}")


def _checked_metadata(metadata: Any) -> dict[str, Any]:
    """``metadata`` as a dict of JSON values whose keys are not lrkit's own settings."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise TypeError(f"`metadata` must be a dict of JSON values, but got metadata={metadata!r}")
    for key, value in metadata.items():
        if not isinstance(key, str) or key.startswith("lrkit:"):
            raise ValueError(f"`metadata` keys must be strings not starting with 'lrkit:' (lrkit "
                             f"keeps its settings there), but got key {key!r}")
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            raise TypeError(f"`metadata` values must be JSON values (Optuna stores them as "
                            f"JSON), but got {key!r}: {value!r}") from None
    return dict(metadata)


def tune(objective: Callable[[Any], float], *, n_trials: int | None = None,
         budget: float | None = None, total_steps: int | None = None, storage: Any = None,
         study_name: str | None = None, lr_range: Sequence[float] | None = None,
         start: float | None = None, bracket: Sequence[float] | None = None,
         sampler: Any = "lrkit", pruner: Any = "lrkit", seed: int | None = None,
         timeout: float | None = None, heartbeat_interval: float = 10.0,
         grace_period: float | None = None, max_retries: int = 2,
         metadata: dict[str, Any] | None = None, progress: bool = False) -> TuneResult:
    """Search the learning rate (and any other declared choices) with Optuna.

    ``objective(trial)`` trains with ``trial.lr``, calls ``trial.report(step, loss)`` after
    updates (it raises ``optuna.TrialPruned`` when the trial should stop: let it propagate)
    and returns the final loss (lower is better). The rate is the Optuna parameter ``lr`` on
    a log scale over ``lr_range``; declare more with ``trial.suggest_*``.

    The search stops after ``n_trials`` trials (COMPLETE or PRUNED), or once ``budget``
    full-run equivalents are spent (``sum(steps run) / total_steps``; a trial cut by the
    budget ends PRUNED with ``lrkit:stopped = "budget"``), whichever comes first. Re-running
    with the same ``storage`` and ``study_name`` resumes the study; several processes may run
    ``tune`` on one study at once (journal file or database storage).

    Args:
        n_trials: stop after this many finished trials.
        budget: stop after this many full-run equivalents (needs ``total_steps``).
        total_steps: steps of one full run: sets the pruner's rungs and the budget's unit.
            A resumed study keeps its own: None takes it, a different one raises
            ``ValueError``.
        storage: None (in memory), a journal file path, a SQLAlchemy URL, or an Optuna storage.
        study_name: defaults to a fresh unique name.
        lr_range: ``(low, high)`` rates searched (default ``(1e-6, 10.0)``). A resumed
            study keeps its range: None takes it, a different range raises ``ValueError``.
        start: the first rate the lrkit sampler tries (e.g. the optimizer's default).
        bracket: ``(low, high)`` from a range test, where the lrkit sampler starts.
        sampler: ``"lrkit"`` (default), ``"tpe"``, ``"random"`` or an Optuna sampler.
        pruner: ``"lrkit"`` (default), ``"median"``, ``"none"`` or an Optuna pruner.
        seed: seeds the sampler.
        timeout: seconds after which no new trial starts.
        heartbeat_interval / grace_period / max_retries: dead-worker detection (see
            :mod:`lrkit.tuning.recovery`); ``grace_period`` defaults to 6 heartbeats and must
            be at least twice ``heartbeat_interval``.
        metadata: extra study user attributes (JSON values), e.g. the problem's name.
        progress: show a progress bar.

    Example:

    >>> import lrkit
    >>> def objective(trial):
    ...     w = 3.0
    ...     for step in range(50):
    ...         w -= trial.lr * 2 * w              # gradient descent on w**2
    ...         trial.report(step, w * w)
    ...     return w * w
    >>> result = lrkit.tune(objective, n_trials=12, total_steps=50, lr_range=(1e-4, 10.0))
    >>> 0.2 < result.best_lr < 0.8
    True
    """
    optuna = require("optuna", "lrkit.tune")
    from lrkit.tuning.pruner import DivergencePruner
    from lrkit.tuning.recovery import check_heartbeat, check_resumed_grace
    from lrkit.tuning.runner import Settings, run_worker
    from lrkit.tuning.storage import create_or_load_study, open_storage

    check_callable("objective", objective)
    if seed is not None:
        seed = check_sampler_seed(seed)
    if n_trials is None and budget is None:
        raise ValueError("`n_trials` or `budget` must be given, but got n_trials=None and budget=None")
    if n_trials is not None:
        n_trials = check_int("n_trials", n_trials, minimum=1)
    if total_steps is not None:
        total_steps = check_int("total_steps", total_steps, minimum=1)
    if budget is not None:
        budget = check_positive("budget", budget)
        if total_steps is None and storage is None:  # in memory: nothing stored to resume
            _no_budget_unit(budget)
    if lr_range is not None:
        lr_range = check_lr_range(lr_range)
    if study_name is not None and (not isinstance(study_name, str) or not study_name.strip()):
        raise (TypeError if not isinstance(study_name, str) else ValueError)(
            f"`study_name` must be a non-empty string or None, but got study_name={study_name!r}")
    metadata = _checked_metadata(metadata)
    heartbeat_interval = check_positive("heartbeat_interval", heartbeat_interval)
    heartbeat_interval, grace = check_heartbeat(
        heartbeat_interval, 6 * heartbeat_interval if grace_period is None else grace_period)
    max_retries = check_int("max_retries", max_retries, minimum=0)
    if timeout is not None:
        timeout = check_positive("timeout", timeout)

    sampler_obj = make_sampler(sampler, seed=seed, start=start, bracket=bracket)
    pruner_obj = make_pruner(pruner, total_steps=total_steps)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage_obj = open_storage(storage)
    name = study_name or f"lrkit-{uuid.uuid4().hex[:8]}"
    study = create_or_load_study(storage_obj, name, sampler=sampler_obj, pruner=pruner_obj)
    check_resumed_grace(study, grace)
    low, high = resume_lr_range(study, lr_range) or DEFAULT_LR_RANGE
    # the unit of the budget and of the cost of the trials already run
    given_steps = total_steps
    total_steps = resume_setting(study, "total_steps", "lrkit:total_steps", total_steps)
    if budget is not None and total_steps is None:
        _no_budget_unit(budget, f" and study {name!r} stores none")
    if total_steps != given_steps and not isinstance(pruner, optuna.pruners.BasePruner):
        pruner_obj = study.pruner = make_pruner(pruner, total_steps=total_steps)  # its rungs
    settings = Settings(lr_range=(low, high), n_trials=n_trials, budget=budget,
                        total_steps=total_steps, heartbeat_interval=heartbeat_interval,
                        grace_period=grace, max_retries=max_retries, timeout=timeout,
                        final_run=isinstance(pruner_obj, DivergencePruner))
    attrs = dict(settings.to_attrs(), **metadata)
    for key, value in attrs.items():
        if study.user_attrs.get(key) != value:
            study.set_user_attr(key, value)
    checkpoints = (pruner_obj.rung_steps(total_steps)
                   if isinstance(pruner_obj, DivergencePruner) else [])
    total = n_trials if n_trials is not None else None
    bar = progress_bar(total, f"tune {name}", progress)
    with bar:
        run_worker(study, objective, settings, checkpoints=checkpoints,
                   on_trial=lambda t: bar.update(1))
    check_range_left(study, (low, high))
    return result_of(study, total_steps)


def result_of(study: Any, total_steps: int | None = None) -> TuneResult:
    """A :class:`TuneResult` for a study (e.g. one loaded with ``optuna.load_study``).

    >>> import lrkit
    >>> def objective(trial):
    ...     w = 1.0
    ...     for _ in range(20):
    ...         w -= trial.lr * w
    ...     return w * w
    >>> first = lrkit.tune(objective, n_trials=6, lr_range=(1e-3, 1.0), seed=0)
    >>> again = result_of(first.study)
    >>> again.best_lr == first.best_lr and len(again.trials) == 6
    True
    """
    from lrkit.tuning.runner import summarize, trial_steps
    from lrkit.tuning.sampler import best_trial

    total_steps = total_steps or study.user_attrs.get("lrkit:total_steps")
    trials = study.get_trials(deepcopy=False)
    best = best_trial(trials)
    cost = (sum(trial_steps(t, total_steps) for t in trials) / total_steps
            if total_steps else None)
    value = None
    if best is not None:
        value = best.value if best.value is not None else \
            best.intermediate_values[max(best.intermediate_values)]
    return TuneResult(
        best_lr=None if best is None else float(best.params["lr"]),
        best_value=None if value is None or not math.isfinite(value) else float(value),
        best_params={} if best is None else dict(best.params),
        study=study, trials=summarize(trials, total_steps), cost=cost)
