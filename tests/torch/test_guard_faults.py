"""Fault injection on built-in problems: every run completes, ends no worse than 10% above
the held-out loss of the same run without the fault, and its events name the cause.

Without ``check_grads`` (the default) a NaN gradient reaches the weights and the next loss
is non-finite: skipped once, then rolled back; with it, the bad update is skipped outright.
Runs use lrkit's default schedule through ``ScheduleLR`` at a good rate of the problem,
snapshots every 10 steps, and the fault at 40% of the run (see ``_guard_harness``).
"""

from __future__ import annotations

import pytest
from _guard_harness import run

GOOD = {"quadratic": 0.1, "autoencoder": 0.0316}

# fault -> (events expected, in order, as (event, cause))
EXPECTED = {
    "nan_grad": [("skip", "non_finite_loss"), ("rollback", "non_finite_loss")],
    "nan_grad_checked": [("skip", "non_finite_grad")],
    "inf_batch": [("skip", "non_finite_loss")],
    "lr_spike": [("skip", "blow_up"), ("rollback", "blow_up")],
    "exploding_loss": [("skip", "blow_up"), ("rollback", "blow_up"), ("skip", "blow_up")],
}

_reference: dict[str, float] = {}


def reference(name):
    if name not in _reference:
        held_out, guard = run(name, GOOD[name], snapshot_every=10)
        assert guard.events == []  # no false alarm on the clean run
        _reference[name] = held_out
    return _reference[name]


@pytest.mark.parametrize("fault", sorted(EXPECTED))
@pytest.mark.parametrize("name", sorted(GOOD))
def test_the_run_recovers_and_the_events_name_the_cause(name, fault):
    if fault == "nan_grad_checked":  # the gradient check skips it before the weights see it
        held_out, guard = run(name, GOOD[name], "nan_grad", snapshot_every=10, check_grads=True)
    else:
        held_out, guard = run(name, GOOD[name], fault, snapshot_every=10)
    assert [(e["event"], e["cause"]) for e in guard.events] == EXPECTED[fault]
    assert held_out <= 1.10 * reference(name), (held_out, reference(name))
    for event in guard.events:
        evidence = event["evidence"][0]
        assert evidence["check"] == event["cause"] and evidence["detail"]
    rollbacks = [e for e in guard.events if e["event"] == "rollback"]
    for e in rollbacks:
        # restored a snapshot taken before the fault, at most two snapshot periods back
        assert e["step"] - 20 <= e["restored_step"] <= e["step"]
