"""The LR-aware sampler: pattern search in log-rate that never re-proposes past the cliff."""

from __future__ import annotations

import math

import optuna
import pytest

from lrkit.tuning.sampler import LRSampler

optuna.logging.set_verbosity(optuna.logging.WARNING)


def valley(lr: float, best: float = 0.03, cliff: float = 0.5) -> float:
    """Final loss of a typical run: a smooth valley in log-rate and divergence past a cliff."""
    if lr >= cliff:
        return math.inf
    return 1.0 + (math.log10(lr) - math.log10(best)) ** 2


def run(sampler: optuna.samplers.BaseSampler, n: int, f=valley, low=1e-6, high=10.0):
    study = optuna.create_study(sampler=sampler)
    for _ in range(n):
        trial = study.ask()
        value = f(trial.suggest_float("lr", low, high, log=True))
        if math.isfinite(value):
            study.tell(trial, value)
        else:  # the way lrkit records a divergence: PRUNED with an infinite value
            trial.report(math.inf, 0)
            trial.set_user_attr("lrkit:diverged", True)
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    return study


def test_finds_the_valley_within_a_few_trials():
    study = run(LRSampler(start=1e-3), 10)
    assert abs(math.log10(study.best_params["lr"]) - math.log10(0.03)) <= 0.25


def test_never_proposes_at_or_past_a_known_cliff():
    study = run(LRSampler(start=1e-1), 16)
    diverged = [t for t in study.trials if t.user_attrs.get("lrkit:diverged")]
    cliff = min(t.params["lr"] for t in diverged)
    later = [t for t in study.trials if t.number > diverged[0].number]
    assert all(t.params["lr"] < cliff for t in later if not t.user_attrs.get("lrkit:diverged"))
    assert len(diverged) <= 2  # the cliff is learnt, not probed again and again


def test_beats_random_search_at_equal_trials():
    """Differential check against Optuna's random log-uniform search (mean over 4 seeds)."""
    def gap(study):
        return abs(math.log10(study.best_params["lr"]) - math.log10(0.03))

    ours = [gap(run(LRSampler(start=10 ** (-4 + s)), 8)) for s in range(4)]
    rand = [gap(run(optuna.samplers.RandomSampler(seed=s), 8)) for s in range(4)]
    assert sum(ours) / 4 < sum(rand) / 4


def test_starts_from_a_range_test_bracket():
    sampler = LRSampler(bracket=(1e-3, 1e-1))
    study = run(sampler, 1)
    assert study.trials[0].params["lr"] == pytest.approx(1e-2)
    assert sampler.initial_step == pytest.approx(0.5)


def test_other_parameters_go_to_the_fallback_sampler():
    study = optuna.create_study(sampler=LRSampler(seed=0))
    seen = []
    for _ in range(6):
        trial = study.ask()
        lr = trial.suggest_float("lr", 1e-4, 1.0, log=True)
        warmup = trial.suggest_float("warmup_fraction", 0.0, 0.2)
        family = trial.suggest_categorical("schedule", ["cosine", "linear"])
        seen.append((warmup, family))
        study.tell(trial, valley(lr) + warmup)
    assert all(0.0 <= w <= 0.2 and f in ("cosine", "linear") for w, f in seen)
    assert len({w for w, _ in seen}) > 1


def test_lr_outside_the_range_is_never_proposed():
    study = run(LRSampler(start=5.0), 12, low=1e-3, high=1.0)
    assert all(1e-3 <= t.params["lr"] <= 1.0 for t in study.trials)


@pytest.mark.parametrize("kwargs", [{"start": -1.0}, {"min_step": 0.0}, {"bracket": (1.0, 0.1)},
                                    {"bracket": (1.0,)}])
def test_bad_arguments_name_the_argument(kwargs):
    name = next(iter(kwargs))
    with pytest.raises((ValueError, TypeError), match=f"`{name}`"):
        LRSampler(**kwargs)


def test_starts_from_a_real_range_test():
    import lrkit

    state = {"x": 4.0}

    def step(lr):
        loss = state["x"] ** 2
        state["x"] -= lr * 2 * state["x"]
        return loss

    found = lrkit.range_test(step, start=1e-4, end=10.0, num=60)
    sampler = LRSampler(bracket=found)
    assert sampler.start is not None and 1e-4 <= sampler.start <= 10.0
    if found.suggestion is not None:
        assert sampler.start == pytest.approx(found.suggestion)
    study = run(sampler, 6, f=lambda lr: valley(lr, best=0.3, cliff=1.0), low=1e-4, high=10.0)
    assert study.trials[0].params["lr"] == pytest.approx(sampler.start)
    assert 0.1 <= study.best_params["lr"] <= 0.9


def test_fine_phase_never_repeats_a_rate_at_the_edge_of_the_range():
    """The best rate sits on the upper edge: later proposals must still be new rates."""
    study = run(LRSampler(start=0.3), 14, f=lambda lr: 1.0 - lr, low=1e-3, high=0.3)
    lrs = [round(t.params["lr"], 12) for t in study.trials]
    assert len(set(lrs)) == len(lrs)
