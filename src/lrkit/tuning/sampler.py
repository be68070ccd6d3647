"""An LR-aware Optuna sampler: a pattern search in log-rate that respects the cliff.

Final loss against ``log(lr)`` usually looks like a valley with a cliff on its right: it
falls slowly as the rate grows, bottoms out, then rises sharply and the run diverges. The
sampler searches ``x = log10(lr)`` with that shape in mind:

1. the first rate is ``start`` (a range-test suggestion, the optimizer's default rate, or the
   middle of the range in log space);
2. from the incumbent ``x*`` (:func:`best_trial`: a trial stopped early is compared with
   its value carried forward to where the others got, near ties going to the one that ran
   further), it proposes
   ``x* + s`` (uphill first: a rate past the cliff diverges and is pruned within a few
   steps, so looking there is cheap) and then ``x* - s``, skipping rates within ``s/2`` of a
   trial already run or running and anything at or above the lowest diverged rate;
3. when both neighbours at step ``s`` are known it halves ``s`` (1 decade, 1/2, 1/4, 1/8);
4. below ``min_step`` it samples around ``x*`` with a Gaussian of width ``min_step``;
5. when the lowest diverged rate is at or below the bottom of the range, no rate is left:
   it raises ``ValueError`` (lrkit's worker loop checks this first and stops the study).

Everything is read from the study's trials, so several workers share one search, a resumed
study continues where it stopped, and PRUNED trials (including divergences recorded with
their rate) count as evidence. Parameters other than ``lr`` go to ``fallback`` (Optuna's TPE
by default), e.g. a warmup fraction, a schedule family or weight decay.

>>> import optuna
>>> optuna.logging.set_verbosity(optuna.logging.WARNING)
>>> study = optuna.create_study(sampler=LRSampler(start=1e-2))
>>> f = lambda lr: (math.log10(lr) + 1.4) ** 2 if lr < 0.5 else float("inf")
>>> study.optimize(lambda t: f(t.suggest_float("lr", 1e-5, 10.0, log=True)), n_trials=12)
>>> 0.02 < study.best_params["lr"] < 0.08
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from lrkit._optional import require
from lrkit._validation import check_positive

optuna = require("optuna", "lrkit.tune")

TrialState = optuna.trial.TrialState


def is_diverged(trial: Any) -> bool:
    """True when a trial ended by divergence (flagged by lrkit, or a non-finite value)."""
    if trial.user_attrs.get("lrkit:diverged"):
        return True
    if trial.state == TrialState.COMPLETE and trial.value is not None:
        return not math.isfinite(trial.value)
    if trial.state == TrialState.PRUNED and trial.intermediate_values:
        return not math.isfinite(trial.intermediate_values[max(trial.intermediate_values)])
    return False


def best_trial(trials: Sequence[Any], *, tolerance: float = 0.02) -> Any:
    """The incumbent among ``trials``, or None.

    The COMPLETE trial with the lowest final value (the criterion itself, as
    ``study.best_trial``); while no trial has completed, the :func:`leading_trial` among the
    PRUNED ones. Diverged trials and trials without ``lr`` or any value are not ranked.
    """
    complete = [t for t in _ranked(trials) if t.state == TrialState.COMPLETE]
    if complete:
        return min(complete, key=lambda t: (float(t.value), t.number))
    return leading_trial(trials, tolerance=tolerance)


def leading_trial(trials: Sequence[Any], *, tolerance: float = 0.02) -> Any:
    """The PRUNED trial that leads where trials were compared, or None.

    Trials stop at different steps: successive halving cuts most of them early, and the
    first trials at a rung stop there until enough trials have reached it (they were not
    beaten, there was no one to compare them with). So neither "furthest first" nor the
    value at the last step both reported decides: each trial's last value is carried
    forward to the deepest step any of them reached (:func:`carried`), by the curves of the
    trials nearest it in rate that got there, and the lowest leads; within ``tolerance``
    (relative) of it, the one that ran further. Configurations that were run to completion
    (a closing run, a retry) and the shorter runs of a configuration run again further are
    left out.
    """
    ranked = _ranked(trials)
    completed = {_config(t) for t in ranked if t.state == TrialState.COMPLETE}
    deepest: dict[str, Any] = {}
    for t in sorted(ranked, key=lambda t: t.number):
        key = _config(t)
        if key in completed:
            continue
        if key not in deepest or _end(t) > _end(deepest[key]):
            deepest[key] = t
    if not deepest:
        return None
    end = int(max(_end(t) for t in deepest.values()))
    scored = [(value, t) for t in deepest.values()
              if (value := carried(t, end, ranked)) is not None and math.isfinite(value)]
    if not scored:
        return None
    lowest = min(value for value, _ in scored)
    close = [t for value, t in scored if value <= lowest + tolerance * abs(lowest)]
    return min(close, key=lambda t: (-_end(t), t.intermediate_values[max(t.intermediate_values)],
                                     t.number))


def beats(short: Any, long: Any, tolerance: float = 0.02, trials: Sequence[Any] = ()) -> bool:
    """True when ``short`` did better than ``long`` (by more than ``tolerance``, relative)
    at the last step ``long`` reported, ``short``'s value carried forward to it
    (:func:`carried`, with ``long`` among the reference curves)."""
    if not long.intermediate_values:
        return False
    end = max(long.intermediate_values)
    # references: finished trials only (a RUNNING one may be blowing up, unflagged yet)
    mine, theirs = carried(short, end, [long, *_ranked(trials)]), long.intermediate_values[end]
    if mine is None:
        return False
    if not math.isfinite(theirs):
        return math.isfinite(mine)
    return math.isfinite(mine) and theirs > mine + tolerance * abs(mine)


def carried(trial: Any, end: int, references: Sequence[Any]) -> float | None:
    """``trial``'s value at step ``end``: the reported one, or its last one carried forward.

    A trial that stopped at step ``k`` before ``end`` gets ``v(k) * ref(end) / ref(k)``
    (``v(k) + ref(end) - ref(k)`` when the reference's values are not both positive) from
    each of the two
    reference trials nearest it in log-rate, one on either side, that reported at ``end``
    and at a step it reported (``k`` is the last such step); the geometric mean of the two
    (the mean when any estimate is not positive), or the one. Near the edge a rate can trail
    early and still end best (its stiff direction is slow to settle), so comparing at
    ``k`` alone took a trial stopped early for want of company, at 0.56x the best rate,
    over the best. None when no reference reached ``end``.

    >>> from types import SimpleNamespace as T
    >>> a = T(number=0, params={"lr": 0.1}, intermediate_values={22: 0.8}, user_attrs={},
    ...       state=None)
    >>> b = T(number=1, params={"lr": 0.2}, intermediate_values={22: 1.6, 66: 0.04},
    ...       user_attrs={}, state=None)
    >>> round(carried(a, 66, [b]), 3)
    0.02
    """
    values = trial.intermediate_values
    if end in values:
        return values[end]
    x = math.log(trial.params["lr"])
    usable = []
    for ref in references:
        if ref is trial or "lr" not in ref.params or is_diverged(ref):
            continue
        after = ref.intermediate_values.get(end, math.nan)
        common = [k for k in values if k < end and math.isfinite(values[k])
                  and math.isfinite(ref.intermediate_values.get(k, math.nan))]
        if math.isfinite(after) and common:
            usable.append((math.log(ref.params["lr"]) - x, ref.number, ref, max(common)))
    below = max((u for u in usable if u[0] <= 0), default=None, key=lambda u: (u[0], -u[1]))
    above = min((u for u in usable if u[0] > 0), default=None, key=lambda u: (u[0], u[1]))
    estimates = []
    for _, _, ref, k in (u for u in (below, above) if u is not None):
        mine, before, after = values[k], ref.intermediate_values[k], ref.intermediate_values[end]
        estimates.append((mine * after / before, mine > 0) if min(before, after) > 0
                         else (mine + after - before, False))
    if not estimates:
        return None
    if all(positive for _, positive in estimates):
        return float(math.exp(sum(math.log(v) for v, _ in estimates) / len(estimates)))
    return float(sum(v for v, _ in estimates) / len(estimates))


def _ranked(trials: Sequence[Any]) -> list[Any]:
    return [t for t in trials
            if t.state in (TrialState.COMPLETE, TrialState.PRUNED) and "lr" in t.params
            and not is_diverged(t) and _end(t) is not None]


def _config(trial: Any) -> str:
    return repr(sorted(trial.params.items()))


def _end(trial: Any) -> float | None:
    """How far a trial ran: ``inf`` when COMPLETE, else its last reported step."""
    if trial.state == TrialState.COMPLETE and trial.value is not None:
        return math.inf
    if trial.intermediate_values:
        return float(max(trial.intermediate_values))
    return None


def lowest_diverged(trials: Sequence[Any]) -> Any:
    """The trial that diverged at the lowest rate, or None."""
    diverged = [t for t in trials if "lr" in t.params and t.state != TrialState.FAIL
                and is_diverged(t)]
    return min(diverged, key=lambda t: (t.params["lr"], t.number)) if diverged else None


def range_exhausted(trials: Sequence[Any], low: float) -> Any:
    """The diverged trial that leaves no rate to try in ``[low, ...]``, or None.

    The lrkit sampler never proposes a rate at or past the lowest rate that diverged; when
    that rate is at or below ``low``, nothing in the range is left to try.
    """
    cliff = lowest_diverged(trials)
    if cliff is not None and math.log10(cliff.params["lr"]) <= math.log10(low) + 1e-9:
        return cliff
    return None


def no_rate_left(cliff: Any, lr_range: tuple[float, float]) -> ValueError:
    """The error for a range that :func:`range_exhausted` says has nothing left to try."""
    low, high = lr_range
    return ValueError(f"`lr_range` must reach below the lowest rate that diverged, but got "
                      f"lr_range=({low:.4g}, {high:.4g}) and lr={cliff.params['lr']:.4g} diverged (trial "
                      f"{cliff.number}): no rate is left to try; start a new study with a "
                      f"lower range")


class LRSampler(optuna.samplers.BaseSampler):
    """Propose ``lr`` by a cliff-aware pattern search in log space; delegate other parameters.

    Args:
        start: the first rate; default: the geometric middle of the ``lr`` range.
        bracket: ``(low, high)`` rates, or a ``lrkit.RangeTestResult``; sets ``start`` to the
            range test's suggestion (else the geometric mean of the pair) and the first step
            to a quarter of the pair's width in decades (at most 1). A range test's pair is
            its confidence band, or (suggestion / 10, divergence rate).
        initial_step: first pattern step in decades (default 1.0).
        min_step: smallest pattern step in decades (default 0.125, half a 4-per-decade grid).
        fallback: the sampler for other parameters (default ``TPESampler(seed=seed)``).
        seed: seeds the fallback and the final Gaussian phase.
    """

    def __init__(self, *, start: float | None = None,
                 bracket: Sequence[float] | None = None, initial_step: float = 1.0,
                 min_step: float = 0.125, fallback: Any = None, seed: int | None = None) -> None:
        self.start = None if start is None else check_positive("start", start)
        self.initial_step = check_positive("initial_step", initial_step)
        self.min_step = check_positive("min_step", min_step)
        if bracket is not None and hasattr(bracket, "suggestion") and hasattr(bracket, "lrs"):
            bracket, suggested = _bracket_of_range_test(bracket)
            if self.start is None and suggested is not None:
                self.start = suggested
        if bracket is not None:
            if len(bracket) != 2:
                raise ValueError(f"`bracket` must be a pair (low, high), but got bracket={bracket!r}")
            low, high = (check_positive("bracket", b) for b in bracket)
            if not low < high:
                raise ValueError(f"`bracket` must satisfy low < high, but got bracket={bracket!r}")
            if self.start is None:
                self.start = math.sqrt(low * high)
            width = math.log10(high / low)
            self.initial_step = min(1.0, max(self.min_step, width / 4))
        self.bracket = None if bracket is None else (float(bracket[0]), float(bracket[1]))
        self._fallback = fallback if fallback is not None else optuna.samplers.TPESampler(seed=seed)
        self._rng = np.random.default_rng(seed)

    def infer_relative_search_space(self, study: Any, trial: Any) -> dict[str, Any]:
        return {}

    def sample_relative(self, study: Any, trial: Any, search_space: dict[str, Any]) -> dict[str, Any]:
        return {}

    def sample_independent(self, study: Any, trial: Any, param_name: str,
                           param_distribution: Any) -> Any:
        dist = param_distribution
        if (param_name == "lr" and isinstance(dist, optuna.distributions.FloatDistribution)
                and dist.log and dist.step is None):
            return self.propose(study.get_trials(deepcopy=False), trial.number, dist.low, dist.high)
        return self._fallback.sample_independent(study, trial, param_name, dist)

    def before_trial(self, study: Any, trial: Any) -> None:
        self._fallback.before_trial(study, trial)

    def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
        self._fallback.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self._fallback.reseed_rng()
        self._rng = np.random.default_rng()

    def propose(self, trials: Sequence[Any], number: int, low: float, high: float) -> float:
        """The next rate given the study's trials (``number`` is the trial being sampled).

        Trials with a lower number that are running but have no rate yet (another worker
        asked at the same moment and has not sampled) are given, in order, the rates they
        will propose, and this trial proposes the next one: two workers that ask at once
        see the same trials, and would otherwise both take the same rate.

        Raises ``ValueError`` when every rate in ``[low, high]`` is at or past the lowest
        rate that diverged: nothing is left to propose.
        """
        pending = [t for t in trials if t.number < number and t.state == TrialState.RUNNING
                   and "lr" not in t.params and "fixed_params" not in t.system_attrs]
        taken: list[float] = []
        for _ in pending:
            taken.append(math.log10(self._propose(trials, number, low, high, taken)))
        return self._propose(trials, number, low, high, taken)

    def _propose(self, trials: Sequence[Any], number: int, low: float, high: float,
                 taken: Sequence[float]) -> float:
        """:meth:`propose` with ``taken`` (log10 rates) counted as rates already tried."""
        lo, hi = math.log10(low), math.log10(high)
        seen: list[float] = list(taken)
        diverged: list[float] = []
        finished = []
        for t in trials:
            if t.number == number or "lr" not in t.params or t.state == TrialState.FAIL:
                continue
            x = math.log10(t.params["lr"])
            seen.append(x)
            if is_diverged(t):
                diverged.append(x)
            elif t.state != TrialState.RUNNING:
                finished.append(t)
        cliff_trial = range_exhausted(trials, low)
        if cliff_trial is not None:
            raise no_rate_left(cliff_trial, (low, high))
        best = best_trial(finished)
        best_x = None if best is None else math.log10(best.params["lr"])
        cliff = min(diverged) if diverged else math.inf
        if not seen:
            start = math.log10(self.start) if self.start is not None else (lo + hi) / 2
            return 10 ** min(max(start, lo), hi)
        if best_x is None:
            # nothing finished without diverging yet: step down from the lowest rate tried
            best_x = min(seen) - self.initial_step if min(diverged or [math.inf]) <= min(seen) \
                else min(seen)
            if best_x < lo:
                best_x = lo
            if not any(abs(x - best_x) < self.min_step / 2 for x in seen):
                return 10 ** best_x
        step = self.initial_step
        while step >= self.min_step - 1e-12:
            for candidate in (best_x + step, best_x - step):
                candidate = min(max(candidate, lo), hi)
                if candidate >= cliff - self.min_step / 2:
                    continue
                if any(abs(x - candidate) < step / 2 - 1e-9 for x in seen):
                    continue
                return 10 ** candidate
            step /= 2
        # fine phase: a few Gaussian draws around the incumbent, keeping the one farthest
        # from every rate already tried (never the same rate twice, e.g. at a range edge)
        upper = max(lo, min(hi, cliff - self.min_step / 2))
        raw = self._rng.normal(best_x, self.min_step, size=8)
        span = np.clip(np.linspace(best_x - 2 * self.min_step, best_x + 2 * self.min_step, 9),
                       lo, upper)  # an incumbent outside the range (a range changed) stays out
        draws = np.concatenate([np.clip(raw, lo, upper), span])
        gaps = [min(abs(float(d) - x) for x in seen) for d in draws]
        if max(gaps) <= 0:
            # every candidate was a rate already tried: with the incumbent at an end of the
            # range, the draws beyond it clip onto it, and the span's points below it may all
            # have been tried. Reflected at the ends instead, the draws land inside
            reflected = np.where(raw > upper, 2 * upper - raw, np.where(raw < lo, 2 * lo - raw, raw))
            draws = np.clip(reflected, lo, upper)
            gaps = [min(abs(float(d) - x) for x in seen) for d in draws]
        return 10 ** float(draws[int(np.argmax(gaps))])


def _bracket_of_range_test(result: Any) -> tuple[tuple[float, float] | None, float | None]:
    """``((low, high), suggestion)`` read from a ``lrkit.RangeTestResult``."""
    suggestion = result.suggestion
    lrs = [float(x) for x in result.lrs]
    band = getattr(result, "band", None)
    high = result.divergence_lr or (band[1] if band else None) or (lrs[-1] if lrs else None)
    low = band[0] if band else (suggestion / 10 if suggestion else (lrs[0] if lrs else None))
    if low is None or high is None or not 0 < low < high:
        return None, suggestion
    return (low, high), suggestion
