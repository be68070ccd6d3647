"""The monitor's verdicts on full runs of the built-in problems (lrkit's default schedule).

Good rates are the best of a half-decade sweep on seed 0 (see docs/monitor.md); the
divergence edges are the smallest rates of that sweep whose run blew up (non-finite on
quadratic; on deep-tanh the loss jumps orders of magnitude and ends at chance level).
"""

from __future__ import annotations

import pytest

from lrkit import problems
from lrkit.monitor import diagnose
from lrkit.problems.train import train

GOOD = {
    "quadratic": 0.1,
    "logistic": 1.0,
    "digits-mlp": 0.1,
    "digits-cnn": 0.1,
    "autoencoder": 0.0316,
    "char-lm": 0.01,
    "deep-tanh": 0.0316,
    "matrix-factorisation": 1.0,
}


def _diagnose(name: str, lr: float):
    result = train(name, lr, seed=0)
    return diagnose(result.losses, lrs=result.lrs), result


def test_every_builtin_problem_has_a_good_rate_here():
    assert set(problems.names()) <= set(GOOD)


@pytest.mark.parametrize("name", sorted(GOOD))
def test_near_a_good_rate_no_false_alarm_over_the_whole_run(name):
    diagnosis, result = _diagnose(name, GOOD[name])
    assert not result.diverged
    assert diagnosis.status == "ok", diagnosis.changes
    assert diagnosis.counts["ok"] == len(result.losses)


@pytest.mark.parametrize("name", ["digits-mlp", "digits-cnn", "char-lm"])
def test_a_thirtieth_of_a_good_rate_is_too_low(name):
    diagnosis, _ = _diagnose(name, GOOD[name] / 30)
    assert diagnosis.status == "too_low", diagnosis.changes
    assert diagnosis.factor > 1
    assert any(c.cause == "slow_steady_progress" for c in diagnosis.changes)


@pytest.mark.parametrize("name,edge", [("quadratic", 0.316), ("deep-tanh", 1.0)])
def test_three_times_the_divergence_edge_is_diverged(name, edge):
    diagnosis, result = _diagnose(name, 3 * edge)
    assert diagnosis.status == "diverged", diagnosis.changes
    assert diagnosis.factor < 1
    first = next(c for c in diagnosis.changes if c.status == "diverged")
    # caught no later than the step where the run itself went non-finite
    if result.diverged_at is not None:
        assert first.step <= result.diverged_at
