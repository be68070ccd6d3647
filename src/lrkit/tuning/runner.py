"""The worker loop: ask, run the objective with an lrkit :class:`Trial`, tell; until the
study's trial count or budget is reached, reaping dead workers' trials along the way.

The same loop serves ``lrkit.tune`` in one process, each of ``lrkit tune --workers K``'s
processes, and ``lrkit worker`` joining from another machine. How far a study has come is
read from the storage, so all of them share one count and one budget.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lrkit._optional import require
from lrkit._validation import check_number
from lrkit.tuning.recovery import (
    DEFAULT_GRACE,
    DEFAULT_HEARTBEAT,
    Heartbeat,
    queue_retry,
    reap_stale_trials,
)
from lrkit.tuning.sampler import (
    LRSampler,
    beats,
    best_trial,
    is_diverged,
    leading_trial,
    range_exhausted,
)
from lrkit.tuning.trial import Trial

optuna = require("optuna", "lrkit.tune")
TrialState = optuna.trial.TrialState
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settings:
    """How one study is run; stored as study user attributes so any worker can join."""

    lr_range: tuple[float, float]
    n_trials: int | None = None
    budget: float | None = None
    total_steps: int | None = None
    heartbeat_interval: float = DEFAULT_HEARTBEAT
    grace_period: float = DEFAULT_GRACE
    max_retries: int = 2
    timeout: float | None = None
    poll_interval: float = 1.0
    final_run: bool = False

    def to_attrs(self) -> dict[str, Any]:
        return {"lrkit:lr_range": list(self.lr_range), "lrkit:n_trials": self.n_trials,
                "lrkit:budget": self.budget, "lrkit:total_steps": self.total_steps,
                "lrkit:heartbeat_interval": self.heartbeat_interval,
                "lrkit:grace_period": self.grace_period, "lrkit:max_retries": self.max_retries}

    @classmethod
    def from_attrs(cls, attrs: dict[str, Any], **overrides: Any) -> Settings:
        if "lrkit:lr_range" not in attrs:
            raise ValueError("`study` must have been created by lrkit tune (it has no "
                             "lrkit:lr_range attribute), but got one without it")
        kwargs = dict(lr_range=tuple(attrs["lrkit:lr_range"]), n_trials=attrs.get("lrkit:n_trials"),
                      budget=attrs.get("lrkit:budget"), total_steps=attrs.get("lrkit:total_steps"),
                      heartbeat_interval=attrs.get("lrkit:heartbeat_interval", DEFAULT_HEARTBEAT),
                      grace_period=attrs.get("lrkit:grace_period", DEFAULT_GRACE),
                      max_retries=attrs.get("lrkit:max_retries", 2))
        kwargs.update(overrides)
        return cls(**kwargs)


def trial_steps(trial: Any, total_steps: int | None) -> int:
    """Updates a trial ran: recorded at its end, else read from its reports."""
    if "lrkit:steps" in trial.user_attrs:
        return int(trial.user_attrs["lrkit:steps"])
    if trial.intermediate_values:
        return max(trial.intermediate_values) + 1
    if trial.state == TrialState.COMPLETE and total_steps:
        return total_steps
    return 0


@dataclass(frozen=True)
class Progress:
    """Where a study stands."""

    done: int  # COMPLETE + PRUNED
    running: int
    waiting: int
    failed: int
    cost: float  # full-run equivalents spent, running trials included
    final_done: bool = False  # the closing full run at the incumbent's rate has finished

    def finished(self, settings: Settings) -> bool:
        """No more trials should be started (the ones in flight may still run)."""
        if settings.n_trials is not None and self.done + self.running >= settings.n_trials:
            return True
        if settings.budget is not None and self.final_done:
            return True
        return settings.budget is not None and self.cost >= settings.budget - 1e-9


def progress_of(trials: list[Any], settings: Settings) -> Progress:
    counts = {state: 0 for state in TrialState}
    for t in trials:
        counts[t.state] += 1
    cost = 0.0
    if settings.total_steps:
        cost = sum(trial_steps(t, settings.total_steps) for t in trials) / settings.total_steps
    final_done = any(closes_for(t, settings) and t.state.is_finished() for t in trials)
    return Progress(done=counts[TrialState.COMPLETE] + counts[TrialState.PRUNED],
                    running=counts[TrialState.RUNNING], waiting=counts[TrialState.WAITING],
                    failed=counts[TrialState.FAIL], cost=cost, final_done=final_done)


def closing_due(trials: list[Any], state: Progress, settings: Settings) -> bool:
    """Whether the next trial to start is the study's last, the one :func:`closing_run`
    may spend on finishing the leading rate (and none has been queued yet)."""
    if not settings.final_run or state.waiting or state.final_done:
        return False
    last = False
    if settings.n_trials is not None:
        last = settings.n_trials - (state.done + state.running) == 1
    if settings.budget is not None:
        last = last or settings.budget - state.cost < 1.5
    return last and not any(closes_for(t, settings) for t in trials)


def closing_rule(settings: Settings) -> str:
    """What a closing run is the last trial of, stored as its ``lrkit:final``: a study
    resumed with more trials or a larger budget gets a closing run of its own at its new end."""
    return f"n_trials={settings.n_trials} budget={settings.budget}"


def closes_for(trial: Any, settings: Settings) -> bool:
    """Whether ``trial`` is the closing run of the study's present stopping rule (``True``, as
    studies before the rule was recorded stored, counts for any)."""
    final = trial.user_attrs.get("lrkit:final")
    return final is True or final == closing_rule(settings)


def closing_run(trials: list[Any], state: Progress, settings: Settings) -> dict[str, Any] | None:
    """Parameters for a closing full run, or None.

    Successive halving stops most trials early, so near the end of a study the best trial
    may not have run to the end. When at most one more trial fits (the last of
    ``n_trials``, or under 1.5 full runs of budget left), the parameters of the leading
    unfinished trial (:func:`~lrkit.tuning.sampler.leading_trial`) are run once more with
    pruning off, unless a COMPLETE trial did at least as well (:func:`~lrkit.tuning.sampler.beats`:
    the unfinished trial's value carried forward to the COMPLETE one's last step). With the
    same seed that run reproduces the trial's prefix and finishes it, so the study ends with
    its best rate as a COMPLETE trial.
    """
    if not closing_due(trials, state, settings):
        return None
    best, lead = best_trial(trials), leading_trial(trials)
    if lead is None:
        # nothing to finish (the last trial runs to the end at the sampler's rate) or the
        # best trial is already COMPLETE
        return {} if best is None else None
    if best.state == TrialState.COMPLETE and not beats(lead, best, trials=trials):
        return None  # no unfinished trial did better than the best COMPLETE one
    return dict(lead.params)


def run_worker(study: Any, objective: Callable[[Trial], float], settings: Settings, *,
               checkpoints: list[int] | None = None,
               on_trial: Callable[[Any], None] | None = None) -> int:
    """Run trials of ``study`` until its count or budget is reached; return how many ran here.

    A worker leaves only when nothing is left to start and no other worker's trial is still
    running, so that a trial whose worker dies is always reaped and retried by a survivor.
    """
    storage = study._storage
    heartbeat = not isinstance(storage, optuna.storages.InMemoryStorage)
    started = time.monotonic()
    ran = 0
    while True:
        if heartbeat:
            reap_stale_trials(study, grace_period=settings.grace_period,
                              max_retries=settings.max_retries)
        trials = study.get_trials(deepcopy=False)
        state = progress_of(trials, settings)
        if isinstance(study.sampler, LRSampler):
            cliff = range_exhausted(trials, settings.lr_range[0])
            if cliff is not None:  # the sampler has nothing left to propose
                logger.info("stopping: every rate in %s is at or above lr=%.4g, which "
                            "diverged (trial %d)", settings.lr_range, cliff.params["lr"],
                            cliff.number)
                return ran
        timed_out = settings.timeout is not None and time.monotonic() - started > settings.timeout
        if timed_out or (state.waiting == 0 and state.finished(settings)):
            if state.running == 0 or timed_out or not heartbeat:
                return ran
            time.sleep(settings.poll_interval)  # another worker is busy; stay to reap it
            continue
        if heartbeat and state.running and closing_due(trials, state, settings):
            # the trials still running may yet take the lead: the last trial is chosen
            # once they are done (else two workers close on whichever led first)
            time.sleep(settings.poll_interval)
            continue
        closing = closing_run(trials, state, settings)
        if closing is not None:
            study.enqueue_trial(closing, user_attrs={"lrkit:final": closing_rule(settings),
                                                     "lrkit:final_of": "leader" if closing
                                                     else "none"})
        budget_steps = None
        if settings.budget is not None and settings.total_steps:
            left = settings.budget - state.cost
            budget_steps = max(1, math.floor(left * settings.total_steps + 1e-6))
        frozen = run_trial(study, objective, settings, checkpoints=checkpoints or [],
                           budget_steps=budget_steps, heartbeat=heartbeat)
        ran += 1
        if on_trial is not None and frozen is not None:
            on_trial(frozen)


def run_trial(study: Any, objective: Callable[[Trial], float], settings: Settings, *,
              checkpoints: list[int], budget_steps: int | None, heartbeat: bool) -> Any:
    """Ask, run and tell one trial; returns the finished FrozenTrial (None if reaped).

    An interrupted trial (Ctrl-C, ``SystemExit``) ends FAIL with ``lrkit:failed_reason =
    "interrupted"`` and its parameters queued again, like a dead worker's; an exception
    raised by the objective fails the trial with that exception as the reason and
    propagates (it is not retried: it would fail again).
    """
    optuna_trial = study.ask()
    low, high = settings.lr_range
    trial: Trial | None = None
    guard: Heartbeat | None = None
    state, value = TrialState.COMPLETE, None
    # from the ask on: an interrupt anywhere after it (not only inside the objective) must
    # fail the trial as interrupted, or it stays RUNNING until another worker reaps it
    try:
        try:
            optuna_trial.suggest_float("lr", low, high, log=True)
        except ValueError as exc:  # e.g. no rate left below a divergence, found meanwhile
            _fail(study, optuna_trial, None, str(exc))
            if range_exhausted(study.get_trials(deepcopy=False), low) is not None:
                return None
            raise
        final = bool(optuna_trial.user_attrs.get("lrkit:final"))
        trial = Trial(optuna_trial, total_steps=settings.total_steps, checkpoints=checkpoints,
                      budget_steps=budget_steps, prune=not final)
        if heartbeat:
            guard = Heartbeat(study._storage, optuna_trial._trial_id, settings.heartbeat_interval)
            guard.__enter__()
        try:
            result = objective(trial)
        except optuna.TrialPruned:
            state = TrialState.PRUNED
        except FloatingPointError as exc:
            trial.mark_diverged(max(trial.steps - 1, 0), math.nan)
            logger.info("trial %d diverged: %s", trial.number, exc)
            state = TrialState.PRUNED
        else:
            value = check_number("objective(trial)", result)
            if not math.isfinite(value):
                trial.mark_diverged(max(trial.steps - 1, 0), value)
                state, value = TrialState.PRUNED, None
    except (KeyboardInterrupt, SystemExit):
        if guard is not None:
            guard.__exit__(None, None, None)
            guard = None
        if _fail(study, optuna_trial, trial, "interrupted"):
            queue_retry(study, study._storage.get_trial(optuna_trial._trial_id), "interrupted",
                        max_retries=settings.max_retries)
        raise
    except optuna.exceptions.UpdateFinishedTrialError:
        # a report found the trial finished: a reaper judged this worker dead (it was only
        # slow: suspended, or a stall past the grace period) and queued a retry
        logger.warning("trial %d was failed by another worker while it ran; result dropped",
                       optuna_trial.number)
        return None
    except BaseException as exc:
        _fail(study, optuna_trial, trial, f"{type(exc).__name__}: {exc}".splitlines()[0][:200])
        raise
    finally:
        if guard is not None:
            guard.__exit__(None, None, None)
    return _safe_tell(study, optuna_trial, trial, state, value)


def _fail(study: Any, optuna_trial: Any, trial: Trial | None, reason: str) -> bool:
    """End a trial FAIL with ``lrkit:failed_reason``; False when it had already ended."""
    try:
        study._storage.set_trial_system_attr(optuna_trial._trial_id, "lrkit:failed_reason", reason)
    except optuna.exceptions.UpdateFinishedTrialError:
        return False  # a reaper failed it first (and queued its retry)
    if trial is None:
        try:
            study.tell(optuna_trial, state=TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            return False
        return True
    return _safe_tell(study, optuna_trial, trial, TrialState.FAIL, None) is not None


def _safe_tell(study: Any, optuna_trial: Any, trial: Trial, state: Any, value: float | None) -> Any:
    try:
        if state != TrialState.FAIL:
            trial.flush()
        steps = trial.steps
        if steps == 0 and state == TrialState.COMPLETE and trial.total_steps:
            steps = trial.total_steps  # an objective that never reports ran a full run
        optuna_trial.set_user_attr("lrkit:steps", steps)
        # a reaper may fail the trial between the last write and the tell
        if study._storage.get_trial(optuna_trial._trial_id).state.is_finished():
            raise optuna.exceptions.UpdateFinishedTrialError(f"trial {optuna_trial.number}")
        if state == TrialState.COMPLETE:
            told = study.tell(optuna_trial, value, skip_if_finished=True)
        else:
            told = study.tell(optuna_trial, state=state, skip_if_finished=True)
        if told.state != state:
            raise optuna.exceptions.UpdateFinishedTrialError(f"trial {told.number} is {told.state}")
        return told
    except optuna.exceptions.UpdateFinishedTrialError:
        # a reaper judged this worker dead (e.g. its heartbeat stalled) and retried the trial
        logger.warning("trial %d was already failed by another worker; result dropped",
                       optuna_trial.number)
        return None


def summarize(trials: list[Any], total_steps: int | None) -> list[dict[str, Any]]:
    """One dict per trial: number, lr, state, value, steps, note; in trial order."""
    rows = []
    for t in sorted(trials, key=lambda t: t.number):
        state = "failed" if t.state == TrialState.FAIL else t.state.name.lower()
        if t.state == TrialState.PRUNED and is_diverged(t):
            state = "diverged"
        value = t.value
        if value is None and t.intermediate_values:
            value = t.intermediate_values[max(t.intermediate_values)]
        note = ""
        if "lrkit:retry_of" in t.system_attrs:
            note = f"retry of #{t.system_attrs.get('lrkit:retried_trial', t.system_attrs['lrkit:retry_of'])}"
        if t.state == TrialState.FAIL and "lrkit:failed_reason" in t.system_attrs:
            note = t.system_attrs["lrkit:failed_reason"]
        if t.user_attrs.get("lrkit:final") and t.state != TrialState.FAIL:
            # enqueued with the leader's rate, or with none when no rate had led
            leader = t.user_attrs.get("lrkit:final_of", "leader" if t.system_attrs.get(
                "fixed_params") else "none") == "leader"
            note = "closing run of the best rate" if leader else "last trial, run to the end"
        if t.user_attrs.get("lrkit:stopped") == "budget":
            note = "stopped: budget"
        if state == "diverged" and "lrkit:diverged_loss" in t.user_attrs:
            loss = _short(t.user_attrs["lrkit:diverged_loss"])
            note = f"loss {loss} at step {t.user_attrs.get('lrkit:diverged_step')}"
        rows.append({"number": t.number, "lr": t.params.get("lr"), "state": state,
                     "value": value, "steps": trial_steps(t, total_steps),
                     "params": {k: v for k, v in t.params.items() if k != "lr"}, "note": note})
    return rows


def _short(value: Any) -> str:
    """A loss with 4 significant digits (``833.1978759765625`` -> ``833.2``)."""
    try:
        return f"{float(value):.4g}"
    except (TypeError, ValueError):
        return str(value)
