"""The lab's optimizers: rates, validation and the details the equations promise."""

import numpy as np
import pytest

from lrkit import schedules
from lrkit.lab import optimizers


def test_rate_is_a_number_times_a_schedule_or_a_callable():
    assert optimizers.GD(lr=0.5).rate(7) == 0.5
    opt = optimizers.Adam(lr=0.1, schedule=schedules.warmup(10, schedules.cosine(90)))
    shape = schedules.warmup(10, schedules.cosine(90))
    assert [opt.rate(t) for t in (0, 9, 50, 200)] == pytest.approx(
        [0.1 * shape(t) for t in (0, 9, 50, 200)])
    assert optimizers.GD(lr=lambda t: 1.0 / (t + 1)).rate(3) == 0.25
    column = optimizers.GD(lr=np.array([0.1, 0.2]), schedule=lambda t: 0.5).rate(0)
    np.testing.assert_allclose(column, [[0.05], [0.1]])


def test_updates_are_pure():
    opt = optimizers.Adam(lr=0.1)
    x = np.array([1.0, -2.0])
    state = opt.init(x)
    new_x, new_state = opt.update(x, np.array([0.5, 0.5]), state)
    np.testing.assert_array_equal(x, [1.0, -2.0])
    assert state.step == 0 and np.all(state.m == 0) and new_state.step == 1
    again, _ = opt.update(x, np.array([0.5, 0.5]), state)
    np.testing.assert_array_equal(new_x, again)


def test_first_adam_step_moves_each_coordinate_by_lr():
    # bias correction makes the first step lr * sign(g) (up to eps)
    opt = optimizers.Adam(lr=0.01)
    x, _ = opt.update(np.zeros(3), np.array([3.0, -1e-3, 50.0]), opt.init(np.zeros(3)))
    np.testing.assert_allclose(x, [-0.01, 0.01, -0.01], rtol=1e-4)


def test_adamw_without_decay_is_adam_and_with_decay_shrinks_directly():
    g = np.array([0.3, -0.2])
    x0 = np.array([1.0, 2.0])
    a, _ = optimizers.Adam(lr=0.1).update(x0, g, optimizers.Adam().init(x0))
    w, _ = optimizers.AdamW(lr=0.1, weight_decay=0.0).update(x0, g, optimizers.AdamW().init(x0))
    np.testing.assert_array_equal(a, w)
    wd, _ = optimizers.AdamW(lr=0.1, weight_decay=0.5).update(x0, g, optimizers.AdamW().init(x0))
    np.testing.assert_allclose(wd, x0 * (1 - 0.05) + (a - x0))
    assert optimizers.AdamW().weight_decay == 0.01


def test_heavy_ball_equals_the_two_step_recurrence_at_a_constant_rate():
    H = np.diag([1.0, 0.1])
    opt = optimizers.HeavyBall(lr=0.3, momentum=0.7)
    x, state = np.array([1.0, 1.0]), opt.init(np.zeros(2))
    prev = cur = x.copy()
    for _ in range(30):
        x, state = opt.update(x, H @ x, state)
        prev, cur = cur, cur - 0.3 * H @ cur + 0.7 * (cur - prev)
        np.testing.assert_allclose(x, cur, rtol=1e-12)


def test_make_and_names():
    assert optimizers.names() == ["gd", "heavy-ball", "nesterov", "adagrad", "rmsprop", "adam",
                                  "adamw"]
    opt = optimizers.make("nesterov", 0.2, momentum=0.5)
    assert isinstance(opt, optimizers.Nesterov) and opt.momentum == 0.5
    with pytest.raises(ValueError, match="`beta1` is not a hyperparameter of 'gd'"):
        optimizers.make("gd", 0.1, beta1=0.9)
    with pytest.raises(ValueError, match="`optimizer` must be one of"):
        optimizers.make("lion", 0.1)


@pytest.mark.parametrize("build,exc,match", [
    (lambda: optimizers.GD(lr=-0.1), ValueError, "`lr` must be a positive finite number"),
    (lambda: optimizers.GD(lr=float("nan")), ValueError, "`lr` must be a positive finite"),
    (lambda: optimizers.GD(lr="0.1"), TypeError, "`lr` must be a positive number, a callable"),
    (lambda: optimizers.GD(lr=True), TypeError, "`lr` must be"),
    (lambda: optimizers.GD(lr=np.array([0.1, 0.0])), ValueError, "1-D array of positive"),
    (lambda: optimizers.GD(lr=lambda t: 0.1, schedule=lambda t: 1.0), ValueError,
     "`schedule` must be None when `lr` is itself a callable"),
    (lambda: optimizers.GD(schedule=3), TypeError, "`schedule` must be a callable"),
    (lambda: optimizers.HeavyBall(momentum=1.0), ValueError, r"`momentum` must be in \[0.0, 1.0\)"),
    (lambda: optimizers.Adam(beta2=-0.1), ValueError, "`beta2` must be in"),
    (lambda: optimizers.RMSProp(eps=-1), ValueError, "`eps` must be >= 0"),
    (lambda: optimizers.AdaGrad(weight_decay=-1), ValueError, "`weight_decay` must be >= 0"),
])
def test_bad_arguments_name_the_argument_and_the_value(build, exc, match):
    with pytest.raises(exc, match=match):
        build()


def test_make_offers_only_real_hyperparameters():
    # class-level constants (the name, AdamW's decoupling) are not hyperparameters: asking
    # for one is the usual ValueError naming it, and the list of what is accepted omits them
    with pytest.raises(ValueError, match=r"`decoupled` is not a hyperparameter of 'adam'") as info:
        optimizers.make("adam", 0.1, decoupled=True)
    assert "name" not in str(info.value).split("takes")[1]
    with pytest.raises(ValueError, match="takes beta1, beta2, eps, schedule, weight_decay\\)"):
        optimizers.make("adamw", 0.1, decoupled=False)
