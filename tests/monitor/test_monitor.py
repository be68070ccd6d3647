"""Unit tests of the streaming Monitor on constructed loss streams."""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest

from lrkit import Monitor, Verdict
from lrkit.monitor import Evidence, diagnose


def feed(monitor, losses, **columns):
    out = []
    for i, loss in enumerate(losses):
        kwargs = {k: v[i] for k, v in columns.items()}
        out.append(monitor.update(loss, **kwargs))
    return out


def noisy_decay(n=400, start=2.0, floor=0.1, tau=20.0, noise=0.05, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return floor + (start - floor) * np.exp(-t / tau) + noise * rng.standard_normal(n)


def test_top_level_names_resolve_lazily():
    import lrkit

    assert lrkit.Monitor is Monitor and lrkit.Verdict is Verdict


@pytest.mark.parametrize("kwargs,name", [
    ({"window": 3}, "window"),
    ({"backoff": 1.5}, "backoff"),
    ({"too_low_factor": 0.5}, "too_low_factor"),
    ({"grad_growth": 1.0}, "grad_growth"),
    ({"warmup": -1}, "warmup"),
])
def test_bad_arguments_name_the_argument_and_value(kwargs, name):
    with pytest.raises(ValueError, match=rf"`{name}` must be .* but got {name}="):
        Monitor(**kwargs)


def test_bad_types_raise_type_error():
    with pytest.raises(TypeError, match="window"):
        Monitor(window="60")
    with pytest.raises((TypeError, ValueError)):
        Monitor().update("not a number")


@pytest.mark.parametrize("kwargs,cause", [
    ({"loss": math.nan}, "non_finite_loss"),
    ({"loss": math.inf}, "non_finite_loss"),
    ({"loss": 1.0, "grad_norm": math.nan}, "non_finite_grad"),
    ({"loss": 1.0, "update_norm": math.inf}, "non_finite_update"),
])
def test_non_finite_values_are_diverged_immediately(kwargs, cause):
    monitor = Monitor()
    verdict = monitor.update(**kwargs)
    assert verdict.status == "diverged" and verdict.cause == cause
    assert verdict.factor == monitor.backoff < 1
    assert verdict.evidence[0].window == 1


def cosine_lrs(n=400, peak=0.1):
    return list(peak * 0.5 * (1 + np.cos(np.pi * np.arange(n) / n)))


def test_a_healthy_noisy_run_gets_no_alarm():
    verdicts = feed(Monitor(), noisy_decay(), lr=cosine_lrs())
    assert {v.status for v in verdicts} == {"ok"}


@pytest.mark.parametrize("offset", [0.0, -50.0, -1000.0])
def test_blow_up_is_relative_to_the_recent_level_and_works_for_negative_losses(offset):
    losses = noisy_decay() + offset
    monitor = Monitor()
    assert {v.status for v in feed(monitor, losses, lr=cosine_lrs())} == {"ok"}
    # a jump of about twice the progress made; "5x the best loss" would never fire below 0
    verdict = monitor.update(losses[-1] + 4.0)
    assert verdict.status == "diverged" and verdict.cause == "blow_up"
    ev = verdict.evidence[0]
    assert ev.statistic > ev.threshold
    assert monitor.update(losses[-1]).status == "ok"  # the blow-up did not enter the window


def test_a_noisy_spike_smaller_than_half_the_progress_is_not_a_divergence():
    losses = noisy_decay()
    monitor = Monitor()
    feed(monitor, losses)
    assert monitor.update(losses[-1] + 0.5).status != "diverged"


def test_the_loss_regressing_above_half_its_progress_is_diverged():
    losses = list(noisy_decay(300)) + list(np.linspace(0.1, 1.8, 100))
    statuses = [v.status for v in feed(Monitor(), losses)]
    assert "diverged" in statuses[300:]


def test_a_rising_loss_is_too_high():
    rng = np.random.default_rng(1)
    losses = list(noisy_decay(200)) + list(0.1 + np.linspace(0, 0.3, 100) + 0.01 * rng.standard_normal(100))
    verdicts = feed(Monitor(), losses)
    causes = {v.cause for v in verdicts[200:] if v.status == "too_high"}
    assert "loss_rising" in causes
    assert all(v.factor < 1 for v in verdicts if v.status == "too_high")


def test_an_oscillating_loss_is_too_high():
    t = np.arange(300)
    losses = 1.0 + 0.3 * (-1.0) ** t + 0.01 * np.random.default_rng(0).standard_normal(300)
    verdicts = feed(Monitor(), losses)
    assert any(v.cause == "oscillation" for v in verdicts)


def test_a_growing_gradient_norm_without_progress_is_too_high():
    rng = np.random.default_rng(2)
    losses = 1.0 + 0.02 * rng.standard_normal(300)
    grads = np.exp(np.linspace(0, 15, 300))
    verdicts = feed(Monitor(), losses, grad_norm=grads)
    assert any(v.cause == "grad_growth" for v in verdicts)


def test_a_steady_crawl_at_a_constant_rate_is_too_low():
    rng = np.random.default_rng(3)
    losses = 2.3 - 0.002 * np.arange(300) + 0.01 * rng.standard_normal(300)
    verdicts = feed(Monitor(), losses, lr=[1e-4] * 300)
    too_low = [v for v in verdicts if v.status == "too_low"]
    assert too_low and too_low[0].cause == "slow_steady_progress"
    assert too_low[0].factor > 1


def test_a_flat_loss_at_a_held_rate_is_a_plateau_but_not_while_the_rate_anneals():
    rng = np.random.default_rng(4)
    losses = 0.5 + 0.02 * rng.standard_normal(300)
    held = feed(Monitor(), losses, lr=[0.1] * 300)
    assert held[-1].status == "plateau" and held[-1].cause == "flat"
    annealed = feed(Monitor(), losses, lr=list(0.1 * np.cos(np.linspace(0, 1.5, 300)) ** 2))
    assert "plateau" not in {v.status for v in annealed[150:]}


def test_a_slow_fall_hidden_in_one_windows_noise_is_not_a_plateau():
    # 0.001 per step under noise 0.05: a 60-step window's fall is about 2 standard errors,
    # short of significance, but the pace is the same as since the start. Calling it a
    # plateau advised halving a rate that was, if anything, too low.
    rng = np.random.default_rng(5)
    losses = 1.0 - 0.001 * np.arange(500) + 0.05 * rng.standard_normal(500)
    verdicts = feed(Monitor(), losses, lr=[0.01] * 500)
    assert "plateau" not in {v.status for v in verdicts}
    # the same fall that then stops is a plateau once the window has seen the stop
    stopped = np.concatenate([losses[:250], losses[250] + 0.05 * rng.standard_normal(250)])
    verdicts = feed(Monitor(), stopped, lr=[0.01] * 500)
    assert verdicts[-1].status == "plateau" and verdicts[-1].cause == "flat"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_long_flat_noisy_run_raises_no_alarm(seed):
    # 100,000 steps of white noise at a held rate: one check's z-test fires on noise now and
    # then (0.2% of checks), which read as "too high" several times a run before verdicts
    # needed two checks in a row
    from lrkit.monitor import diagnose

    losses = 1.0 + 0.02 * np.random.default_rng(seed).standard_normal(100_000)
    diagnosis = diagnose(losses, lrs=[0.1] * 100_000)
    assert diagnosis.counts["too_high"] == 0, diagnosis.changes
    # a stalled run, not one to run 3x faster: the few single-check too_low verdicts on
    # noise do not set the run's status
    assert diagnosis.status == "plateau", diagnosis.counts


def test_too_high_needs_two_of_the_last_three_checks():
    from lrkit.monitor.verdict import Verdict

    monitor = Monitor(check_every=1)
    script = iter(["too_high", "ok", "too_high", "ok", "ok", "too_high", "ok", "ok"])
    monitor._refresh = lambda step: Verdict(next(script), step)  # each check's raw finding
    for _ in range(4):  # before the first check (five losses)
        assert monitor.update(1.0).status == "ok"
    said = [monitor.update(1.0).status for _ in range(8)]
    # one finding alone is never reported; one that flickers with ok still is
    assert said == ["ok", "ok", "too_high", "ok", "ok", "ok", "ok", "ok"]


def test_a_steady_fall_between_spikes_is_not_too_low():
    # a rate near the edge: steady progress, and every 25 steps a spike of 15 noise scales
    # (under the blow-up test's 25). Advising 3x that rate would blow the run up.
    rng = np.random.default_rng(3)
    losses = 2.3 - 0.002 * np.arange(300) + 0.01 * rng.standard_normal(300)
    losses[np.arange(10, 300, 25)] += 0.15
    verdicts = feed(Monitor(), losses, lr=[1e-4] * 300)
    assert "too_low" not in {v.status for v in verdicts}
    assert "diverged" not in {v.status for v in verdicts}


def test_memory_is_bounded_by_the_window():
    monitor = Monitor(window=40)
    feed(monitor, noisy_decay(5000, tau=2000), grad_norm=[1.0] * 5000, lr=[0.1] * 5000)
    state = monitor.state_dict()
    assert len(state["losses"]) == len(state["grads"]) == len(state["lrs"]) == 40
    assert len(pickle.dumps(state)) < 10_000
    assert monitor.step == 5000


def test_state_dict_round_trip_gives_the_same_verdicts():
    losses = noisy_decay(400)
    a = Monitor()
    feed(a, losses[:200])
    b = Monitor()
    b.load_state_dict(pickle.loads(pickle.dumps(a.state_dict())))
    assert [v.status for v in feed(a, losses[200:])] == [v.status for v in feed(b, losses[200:])]


def test_verdict_text_and_dict_carry_the_evidence():
    verdict = Verdict("too_high", 7, 0.5, (Evidence("spikes", 0.2, 0.05, 60, "20% spiked"),))
    assert "too_high" in str(verdict) and "20% spiked" in str(verdict) and "x0.5" in str(verdict)
    d = verdict.to_dict()
    assert d["cause"] == "spikes" and d["evidence"][0]["threshold"] == 0.05


def test_diagnose_reports_changes_and_the_most_severe_status():
    losses = list(noisy_decay(200)) + [math.nan]
    d = diagnose(losses, lrs=cosine_lrs(201))
    assert d.status == "diverged" and d.changes[-1].step == 200
    assert d.counts["ok"] == 200 and d.counts["diverged"] == 1
    with pytest.raises(ValueError, match="lrs"):
        diagnose([1.0, 2.0], lrs=[0.1])


def test_state_dict_is_plain_json():
    monitor = Monitor()
    feed(monitor, list(noisy_decay(150)) + [0.1 + 2.0 * t for t in range(40)])
    state = json.loads(json.dumps(monitor.state_dict()))
    other = Monitor()
    other.load_state_dict(state)
    assert other.update(5.0).status == monitor.update(5.0).status


def test_diagnose_refuses_steps_that_go_backwards_and_accepts_repeats():
    with pytest.raises(ValueError, match=r"`steps` must never go backwards.*step 5 after step 9"):
        diagnose([1.0] * 12, steps=[*range(10), 5, 6])
    # unsigned steps too (a difference would wrap around instead of going negative)
    with pytest.raises(ValueError, match="step 3 after step 5"):
        diagnose([1.0] * 5, steps=np.array([0, 1, 2, 5, 3], dtype=np.uint32))
    with pytest.raises(ValueError, match="finite"):
        diagnose([1.0] * 3, steps=[0.0, math.nan, 2.0])
    # a step logged twice (e.g. two rows of one step) is not a step back
    assert len(diagnose([1.0, 0.9, 0.9, 0.8], steps=[0, 1, 1, 2]).statuses) == 4
