"""Experiments: run, sweep, path, decay and compare return the data the lessons rest on."""

import json
import warnings

import numpy as np
import pytest

from lrkit import lab, schedules
from lrkit.errors import LrkitWarning
from lrkit.lab import experiments, objectives, optimizers, theory


def test_run_records_gaps_rates_and_path():
    q = objectives.quadratic(kappa=10.0, dim=3)
    t = lab.run(q, optimizers.GD(lr=0.5, schedule=schedules.cosine(20)), steps=20,
                record_path=True)
    assert t.gaps.shape == (21,) and t.rates.shape == (20,) and t.xs.shape == (21, 3)
    assert t.gaps[0] == pytest.approx(float(q.loss(q.x0)) - q.f_star)
    np.testing.assert_allclose(t.rates, 0.5 * schedules.cosine(20)(np.arange(20)))
    np.testing.assert_allclose(t.gaps, q.loss(t.xs) - q.f_star)
    assert not t.diverged and t.diverged_at == -1
    with pytest.raises(TypeError, match="`optimizer` must be an lrkit.lab optimizer"):
        lab.run(q, "gd", steps=3)
    with pytest.raises(ValueError, match=r"`x0` must be an array of shape \(3,\)"):
        lab.run(q, optimizers.GD(), steps=3, x0=np.zeros(2))


def test_a_blown_up_run_is_stopped_quietly_and_marked():
    q = objectives.quadratic(kappa=10.0, dim=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warnings escape
        t = lab.run(q, optimizers.GD(lr=np.array([0.5, 50.0])), steps=500, record_path=True)
    assert list(t.diverged) == [False, True]
    stop = t.diverged_at[1]
    assert 0 < stop < 500
    assert np.all(np.isinf(t.gaps[stop:, 1])) and np.all(np.isfinite(t.gaps[:stop, 1]))
    assert np.all(np.isfinite(t.xs[:, 1]))  # the iterate is frozen before it overflows
    assert np.all(np.isfinite(t.gaps[:, 0]))


def test_stochastic_runs_are_reproducible_by_seed():
    q = objectives.noisy_quadratic()
    a = lab.run(q, optimizers.GD(lr=0.3), steps=50, seed=3).gaps
    b = lab.run(q, optimizers.GD(lr=0.3), steps=50, seed=3).gaps
    c = lab.run(q, optimizers.GD(lr=0.3), steps=50, seed=4).gaps
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_sweep_of_adam_on_rosenbrock_has_ordered_zones_and_serialises():
    r = lab.sweep("rosenbrock", "adam", num=40, steps=300)
    assert r.theory == {}  # no constant-rate theory for Adam, nor on Rosenbrock
    assert r.max_stable_lr is None or r.max_stable_lr > r.best_lr
    order = ["too low", "good", "too high"]
    assert list(r.zones) == sorted(r.zones, key=order.index)
    assert r.zones[0] == "too low"
    i = int(np.argmin(np.where(np.isfinite(r.final_gaps), r.final_gaps, np.inf)))
    assert r.best_lr == r.lrs[i]
    payload = r.to_dict()
    json.dumps(payload)
    assert payload["best_lr"] == r.best_lr and len(payload["lrs"]) == 40


def test_sweep_runs_at_exact_theory_rates():
    q = objectives.quadratic(kappa=100.0, dim=10)
    r = lab.sweep(q, "gd", num=50, steps=400)
    assert set(r.theory_gaps) == {"1/L", "2/(L+mu)", "2/L"}
    single = lab.run(q, optimizers.GD(lr=theory.safe_lr(q.L)), steps=400).gaps[-1]
    assert r.theory_gaps["1/L"] == pytest.approx(single, rel=1e-9)
    # 2/L neither converges nor diverges along the stiffest direction
    assert r.theory_gaps["2/L"] == pytest.approx(0.5 * q.L * 1.0, rel=1e-3)


def test_sweep_accepts_an_optimizer_object_and_hyperparameters():
    q = objectives.quadratic(kappa=10.0, dim=4)
    a = lab.sweep(q, optimizers.HeavyBall(momentum=0.5), lrs=[0.1, 1.0, 3.5], steps=200)
    b = lab.sweep(q, "heavy-ball", momentum=0.5, lrs=[0.1, 1.0, 3.5], steps=200)
    np.testing.assert_array_equal(a.final_gaps, b.final_gaps)
    assert list(a.diverged) == [False, False, True]
    with pytest.raises(ValueError, match="`lrs` must be > 0"):
        lab.sweep(q, "gd", lrs=[0.1, -1.0])
    with pytest.raises(ValueError, match="`lrs` must be at least two rates"):
        lab.sweep(q, "gd", lrs=[0.1])
    with pytest.raises(ValueError, match="`momentum` is not a hyperparameter of 'gd'"):
        lab.sweep(q, "gd", momentum=0.9)
    with pytest.raises(TypeError, match="`objective` must be an lrkit.lab Objective"):
        lab.sweep(42, "gd")


def test_too_small_a_rate_lingers_at_the_saddle():
    s = objectives.saddle()
    r = lab.path(s, "gd", (1e-3, 0.1), steps=300)
    slow, fast = r.gaps[:, -1]
    assert fast < 1e-6  # reached a minimum, f* = -1/4
    assert abs(r.xs[0, -1, 1]) < 0.01  # the small rate is still on the saddle's ridge
    assert slow > 0.2
    assert json.dumps(r.to_dict())


def test_path_on_rosenbrock_larger_adam_rates_get_further():
    r = lab.path("rosenbrock", "adam", (1e-3, 3e-2, 3e-1), steps=500)
    assert r.xs.shape == (3, 501, 2)
    finals = r.gaps[:, -1]
    assert finals[0] > finals[1] > finals[2]
    np.testing.assert_array_equal(r.xs[:, 0], np.tile(r.objective.x0, (3, 1)))


def test_decay_beats_both_constant_rates_and_the_floor_matches_theory():
    r = lab.decay("noisy-quadratic", "gd", steps=600, seeds=8)
    constant, small, decayed = (r.finals[k] for k in ("constant lr", "constant lr*0.1",
                                                       "decayed"))
    assert decayed < small < constant
    assert r.noise_floor == pytest.approx(constant, rel=0.25)
    # the decay costs no early speed against the small rate: ahead of it at step 50
    assert r.curves["decayed"][50] < r.curves["constant lr*0.1"][50]
    assert r.rates["decayed"][0] == pytest.approx(r.lr)
    assert r.rates["decayed"][-1] < 1e-3 * r.lr
    json.dumps(r.to_dict())


def test_decay_takes_any_schedule_and_other_optimizers():
    q = objectives.noisy_quadratic()
    r = lab.decay(q, "adam", lr=0.05, schedule=schedules.parse("linear(1.0, 0.0, 300)"),
                  steps=300, seeds=2)
    assert r.schedule == str(schedules.parse("linear(1.0, 0.0, 300)"))
    assert r.noise_floor is None
    assert r.finals["decayed"] < r.finals["constant lr"]
    with pytest.raises(TypeError, match="`schedule` must be a callable"):
        lab.decay(q, schedule="cosine")


def test_decay_with_an_optimizer_object_keeps_its_constant_runs_constant():
    # an optimizer object that carries a schedule of its own: the "constant" runs must still
    # be constant, and only the "decayed" run follows the decay
    opt = optimizers.Adam(lr=0.01, schedule=schedules.linear(1.0, 0.5, 100))
    r = lab.decay("rosenbrock", opt, steps=100, seeds=1)
    for label in ("constant lr", "constant lr*0.1"):
        np.testing.assert_array_equal(r.rates[label], np.full(100, r.rates[label][0]))
    # the object's own rate is the peak when the objective gives no 1/L
    assert r.lr == 0.01
    assert r.rates["constant lr"][0] == pytest.approx(0.01)


def test_decay_reports_no_noise_floor_for_a_weight_decayed_optimizer_object():
    # the floor's formula is for plain gradient descent; weight decay inside the object
    # changes the problem just as the weight_decay keyword does
    q = objectives.noisy_quadratic()
    assert lab.decay(q, "gd", steps=50, seeds=1, weight_decay=0.5).noise_floor is None
    assert lab.decay(q, optimizers.GD(weight_decay=0.5), steps=50, seeds=1).noise_floor is None


def test_compare_finds_heavy_ball_faster_than_gd_on_an_ill_conditioned_quadratic():
    q = objectives.quadratic(kappa=100.0, dim=10)
    r = lab.compare(q, ("gd", "heavy-ball", "adam"), steps=200, num=30)
    by_name = {e.optimizer: e for e in r.entries}
    assert by_name["heavy-ball"].final_gap < by_name["gd"].final_gap
    for e in r.entries:
        assert e.best_lr == e.sweep.best_lr
        assert e.gaps.shape == (201,)
        assert e.final_gap == pytest.approx(e.gaps[-1])
    json.dumps(r.to_dict())
    with pytest.raises(ValueError, match="`optimizers` must be names among"):
        lab.compare(q, ("gd", "lbfgs"))


def test_default_grids_follow_the_theory():
    q = objectives.quadratic(kappa=10.0, L=2.0)
    gd = experiments.default_lrs(q, "gd", 10)
    assert gd[0] == pytest.approx(1e-3 / 2.0) and gd[-1] == pytest.approx(4 / 2.0)
    assert experiments.default_lrs(q, "adam", 10)[-1] == pytest.approx(10.0)


def test_gaps_below_rounding_resolution_are_reported_at_the_resolution():
    obj = objectives.logistic()
    eps = np.finfo(float).eps
    assert 8 * eps * obj.f_star <= obj.resolution < 16 * eps * obj.f_star
    t = lab.run(obj, optimizers.GD(lr=5.0), steps=600)
    assert np.all(t.gaps >= obj.resolution)
    assert t.gaps[-1] == obj.resolution  # converged to the last bit
    q = objectives.quadratic(kappa=10.0, dim=4)
    delta = 4 * eps * max(1.0, np.abs(q.x_star).max())
    assert q.resolution == pytest.approx(0.5 * q.eigenvalues.sum() * delta**2, rel=1e-6)
    # a sweep that reaches the floor at many rates calls them all good
    r = lab.sweep(q, "heavy-ball", momentum=0.9, num=60, steps=1000)
    plateau = r.final_gaps <= q.resolution
    assert plateau.sum() > 5
    assert all(z == "good" for z, p in zip(r.zones, plateau, strict=True) if p)
    assert r.best_lr == r.lrs[np.argmax(plateau)]  # the smallest rate that gets there


def test_seed_none_draws_fresh_noise():
    q = objectives.noisy_quadratic()
    a = lab.run(q, optimizers.GD(lr=0.3), steps=20, seed=None).gaps
    b = lab.run(q, optimizers.GD(lr=0.3), steps=20, seed=None).gaps
    assert not np.array_equal(a, b)


def test_a_sweep_where_every_rate_diverged_has_no_best_rate_and_no_good_zone():
    with pytest.warns(LrkitWarning, match="every rate of the sweep diverged, from 3 to 10"):
        r = lab.sweep("quadratic", "gd", lrs=np.geomspace(3, 10, 5), steps=100)
    assert r.zones == ("too high",) * 5 and r.diverged.all()
    assert np.isnan(r.best_lr) and r.best_gap == np.inf and r.max_stable_lr is None
    assert all(np.isnan(r.good_range))
    json.dumps(r.to_dict())


def test_theory_lines_follow_weight_decay_and_leave_when_they_do_not_apply():
    q = objectives.quadratic(kappa=100.0, dim=10)  # L = 1, mu = 0.01
    # L2 decay wd adds wd to every curvature: gradient descent blows up past 2/(L + wd)
    r = lab.sweep(q, "gd", lrs=np.geomspace(0.5, 2.5, 40), steps=300, weight_decay=1.0)
    assert r.theory["2/L"] == pytest.approx(2 / (1 + 1.0))
    assert r.theory["2/(L+mu)"] == pytest.approx(2 / (1 + 1.0 + 0.01 + 1.0))
    assert r.theory["2/L"] / 1.05 < r.max_stable_lr < r.theory["2/L"]
    h = lab.sweep(q, "heavy-ball", lrs=np.geomspace(0.5, 4, 40), steps=300, momentum=0.5,
                  weight_decay=1.0)
    assert h.theory["2(1+m)/L"] == pytest.approx(2 * 1.5 / 2.0)
    # a schedule changes where the run blows up; the constant-rate lines do not apply
    s = lab.sweep(q, optimizers.GD(schedule=schedules.cosine(300)), lrs=np.geomspace(0.5, 8, 20),
                  steps=300)
    assert s.theory == {} and s.max_stable_lr > 2.0
    # logistic regression's L is a bound, not its curvature: no lines drawn at it
    assert lab.sweep("logistic", "gd", num=10, steps=20).theory == {}


def test_compare_reports_the_sweeps_own_run_at_its_best_rate():
    # on a noisy objective a rerun alone draws other noise than the sweep's row did
    r = lab.compare("noisy-quadratic", ("gd", "adam"), steps=200, num=12)
    for entry in r.entries:
        assert entry.final_gap == entry.sweep.best_gap
        assert entry.gaps.shape == (201,)
        # a noisy run's final gap is the mean of its last tenth: of this very curve
        assert entry.gaps[-20:].mean() == pytest.approx(entry.final_gap, rel=1e-12)


@pytest.mark.parametrize("call,exc,match", [
    (lambda: lab.run("quadratic", optimizers.GD(lr=0.1), steps=5, seed=-1), ValueError,
     "`seed` must be"),
    (lambda: lab.sweep("quadratic", "gd", num=3, steps=5, seed=1.5), TypeError, "`seed`"),
    (lambda: lab.run("quadratic", optimizers.GD(lr=0.1), steps=5,
                     x0=np.full(10, np.nan)), ValueError, "`x0` must be finite"),
    (lambda: lab.run("quadratic", optimizers.GD(lr=lambda t: 0.1 - 0.05 * t), steps=5),
     ValueError, r"`lr` must be a schedule of finite rates >= 0 \(step 3 gave -0.05"),
    (lambda: lab.run("quadratic", optimizers.GD(lr=0.1, schedule=lambda t: float("nan")),
                     steps=5), ValueError, r"step 0 gave nan"),
    (lambda: lab.run("quadratic", optimizers.GD(lr=lambda t: float("inf")), steps=5),
     ValueError, r"step 0 gave inf"),
    (lambda: objectives.rosenbrock(a=float("nan")), ValueError, "`a` must be finite"),
])
def test_bad_input_to_the_experiments_is_named(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
