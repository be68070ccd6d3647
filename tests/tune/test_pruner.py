"""The divergence-aware pruner: divergence at once, successive halving among live trials."""

from __future__ import annotations

import math

import optuna
import pytest

from lrkit.tuning.pruner import DivergencePruner

optuna.logging.set_verbosity(optuna.logging.WARNING)


def curve_study(curves, pruner):
    """Run trials reporting the given curves in order; return (study, step each stopped at)."""
    study = optuna.create_study(pruner=pruner)
    stopped = []
    for curve in curves:
        trial = study.ask()
        trial.suggest_float("lr", 1e-4, 1.0, log=True)
        for step, value in enumerate(curve):
            trial.report(value, step)
            if trial.should_prune():
                stopped.append(step)
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                break
        else:
            stopped.append(None)
            study.tell(trial, curve[-1])
    return study, stopped


def test_rungs_are_fractions_of_the_run():
    assert DivergencePruner(total_steps=90).rung_steps() == [9, 29]
    assert DivergencePruner(total_steps=81, eta=3, min_fraction=1 / 27).rung_steps() == [2, 8, 26]
    assert DivergencePruner().rung_steps() == []


def test_non_finite_value_is_pruned_at_once_even_before_any_rung():
    _, stopped = curve_study([[1.0] * 90, [1.0, math.nan] + [1.0] * 88,
                              [1.0, 2.0, math.inf] + [1.0] * 87],
                             DivergencePruner(total_steps=90, min_trials=1))
    assert stopped == [None, 1, 2]


def test_worse_trial_is_stopped_at_the_first_rung_better_one_goes_on():
    good = [1.0 - 0.005 * s for s in range(90)]
    bad = [v + 0.3 for v in good]
    better = [v - 0.1 for v in good]
    _, stopped = curve_study([good, bad, better], DivergencePruner(total_steps=90, min_trials=1))
    assert stopped == [None, 9, None]


def test_patient_with_near_ties():
    good = [1.0 - 0.005 * s for s in range(90)]
    near = [v * 1.01 for v in good]  # 1% worse: within the default 2% tolerance
    _, stopped = curve_study([good, near], DivergencePruner(total_steps=90, min_trials=1))
    assert stopped == [None, None]
    _, stopped = curve_study([good, near], DivergencePruner(total_steps=90, tolerance=0.0,
                                                               min_trials=1))
    assert stopped == [None, 9]


def test_keeps_the_best_third_among_many():
    base = [1.0 - 0.005 * s for s in range(90)]
    offsets = [0.0, 0.5, 0.4, 0.3, 0.2, 0.1]
    _, stopped = curve_study([[v + o for v in base] for o in offsets],
                             DivergencePruner(total_steps=90, tolerance=0.0, min_trials=1))
    # n trials at a rung, the best ceil(n/3) go on. Rung 9: 0.5 is 2nd of 2 and 0.4 2nd of 3
    # (stop); 0.3, 0.2, 0.1 are 2nd of 4, 5, 6 (go on). Rung 29: 0.3 and 0.2 are 2nd of 2 and
    # 3 (stop); 0.1 is 2nd of 4 (goes on to the end).
    assert stopped == [None, 9, 9, 29, 29, None]


def test_total_steps_is_read_from_the_study_when_not_given():
    good = [1.0 - 0.005 * s for s in range(90)]
    bad = [v + 0.3 for v in good]
    _, stopped = curve_study([good, bad], DivergencePruner(min_trials=1))
    assert stopped == [None, 9]  # rungs from the finished trial's length


def test_no_trial_goes_past_a_rung_before_enough_trials_reached_it():
    """The default (min_trials = eta = 3): early trials stop at the first rung; the third
    one to reach it, if best, goes on, and it finishes only once three trials reached 1/3."""
    base = [1.0 - 0.005 * s for s in range(90)]
    curves = [[v + o for v in base] for o in (0.3, 0.2, 0.1, 0.15, 0.05, 0.0)]
    _, stopped = curve_study(curves, DivergencePruner(total_steps=90))
    # rung 9: 1st and 2nd stop (too few); 3rd is best of 3 and goes on, then stops at rung 29
    # (alone there); 4th is 2nd of 4 (top 2) and stops at 29 (2 there); 5th is best of 5,
    # passes rung 29 as best of 3 and finishes; 6th likewise finishes.
    assert stopped == [9, 9, 29, 29, None, None]


@pytest.mark.parametrize("kwargs", [{"total_steps": 0}, {"eta": 1}, {"min_fraction": 1.5},
                                    {"tolerance": -0.1}, {"min_trials": 0}])
def test_bad_arguments_name_the_argument(kwargs):
    name = next(iter(kwargs))
    with pytest.raises((ValueError, TypeError), match=f"`{name}`"):
        DivergencePruner(**kwargs)
