"""Contract tests that every schedule must pass (one example or more of each family)."""

from __future__ import annotations

import copy
import json
import math
import pickle
import sys

import numpy as np
import pytest

from lrkit import schedules as S
from lrkit.schedules import FACTORIES, Schedule, from_dict, parse

EXAMPLES: list[Schedule] = [
    S.constant(),
    S.constant(0.3),
    S.linear(0.1, 1.0, 50),
    S.linear(1.0, 0.0, 77),
    S.step(10, 0.5),
    S.multistep([30, 60, 90], 0.1),
    S.exponential(0.97),
    S.inverse_time(0.05),
    S.polynomial(100),
    S.polynomial(100, power=2.0, final=0.05),
    S.cosine(120),
    S.cosine(120, final=0.1),
    S.cosine_restarts(20),
    S.cosine_restarts(10, mult=2, decay=0.5, final=0.01),
    S.cyclic(20, 0.1),
    S.cyclic(20, 0.2, mode="triangular2"),
    S.cyclic(16, 0.05, mode="exp_range", gamma=0.99),
    S.one_cycle(100),
    S.one_cycle(120, warmup_steps=20, three_phase=True, anneal="linear"),
    S.one_cycle(50, warmup_steps=1),
    S.inverse_sqrt(25),
    S.wsd(200, 20, 50),
    S.wsd(200, 0, 50, final=0.1, decay="cosine"),
    S.wsd(200, 10, 60, decay="1-sqrt"),
    S.warmup(10, S.cosine(100, final=0.1)),
    S.warmup(0, S.linear(1.0, 0.5, 10)),
    S.warmup(7, S.step(5, 0.5)),
    S.join([S.linear(0.1, 1.0, 20), S.cosine(80), S.constant(0.1)], [20, 100]),
    S.join([S.constant()], []),
    S.join([S.warmup(5, S.constant()), S.cosine_restarts(10)], [30]),
]

IDS = [str(s) for s in EXAMPLES]
STEPS = np.arange(0, 400)
HUGE = [10**9, 10**12, 10**15, 2**62]


def test_every_family_has_an_example() -> None:
    assert {s.name for s in EXAMPLES} == set(FACTORIES)


@pytest.mark.parametrize("s", EXAMPLES, ids=IDS)
def test_scalar_and_array_evaluation_agree(s: Schedule) -> None:
    array = s(STEPS)
    assert isinstance(array, np.ndarray) and array.dtype == np.float64 and array.shape == STEPS.shape
    scalars = [s(int(t)) for t in STEPS]
    assert all(type(v) is float for v in scalars)
    np.testing.assert_allclose(array, scalars, rtol=1e-12, atol=1e-15)
    # lists, tuples, 2-d arrays and float steps evaluate the same way
    np.testing.assert_allclose(s(list(range(5))), scalars[:5], rtol=1e-12, atol=1e-15)
    assert s(np.arange(6).reshape(2, 3)).shape == (2, 3)
    assert s(3.0) == pytest.approx(s(3), rel=1e-12, abs=1e-15)
    assert s(np.array([], dtype=np.int64)).shape == (0,)
    # a 0-d array (what indexing an array or np.int64 arithmetic often gives) is one step
    zero_d = s(np.array(3))
    assert zero_d.shape == () and float(zero_d) == pytest.approx(scalars[3], rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("s", EXAMPLES, ids=IDS)
def test_values_are_finite_and_nonnegative(s: Schedule) -> None:
    values = s(np.concatenate([STEPS, np.array(HUGE, dtype=np.float64)]))
    assert np.all(np.isfinite(values)) and np.all(values >= 0.0)
    for t in HUGE:
        value = s(t)
        assert math.isfinite(value) and value >= 0.0


FLOAT_EXTREMES = [1e200, 1e300, 2.0**1023, 1e308, sys.float_info.max]


@pytest.mark.parametrize("s", [*EXAMPLES, S.cosine_restarts(3, mult=7, decay=0.5),
                               S.cosine_restarts(1, mult=2), S.cosine_restarts(10, mult=1000)],
                         ids=[*IDS, "restarts-mult7", "restarts-mult2", "restarts-mult1000"])
def test_float_steps_up_to_the_largest_float_are_finite_and_agree(s: Schedule) -> None:
    # finite float steps are valid steps, however large; both paths give the same value
    array = s(np.array(FLOAT_EXTREMES))
    scalars = [s(t) for t in FLOAT_EXTREMES]
    assert all(math.isfinite(v) and v >= 0.0 for v in scalars)
    np.testing.assert_allclose(array, scalars, rtol=1e-9, atol=1e-300)


@pytest.mark.parametrize("s", EXAMPLES, ids=IDS)
def test_integer_steps_beyond_float_range_raise_a_clear_value_error(s: Schedule) -> None:
    # python ints have no bound, but every formula works in float64: a step that no
    # float can hold is rejected like inf, not left to an OverflowError deep inside
    beyond = 10**400
    with pytest.raises(ValueError, match="`step` must be finite"):
        s(beyond)
    with pytest.raises(ValueError, match="`step` must be finite"):
        s([0, beyond])
    assert math.isfinite(s(int(sys.float_info.max)))  # the largest float's integer still works


@pytest.mark.parametrize("s", EXAMPLES, ids=IDS)
def test_starts_above_zero_and_peaks_at_most_one(s: Schedule) -> None:
    # every example here starts above zero: warmups never waste update 0
    assert 0.0 < s(0) <= 1.0
    assert np.max(s(STEPS)) <= 1.0 + 1e-12


@pytest.mark.parametrize("s", [s for s in EXAMPLES if s.horizon is not None],
                         ids=[str(s) for s in EXAMPLES if s.horizon is not None])
def test_holds_its_final_value_past_the_horizon(s: Schedule) -> None:
    h = s.horizon
    final = s(h)
    for t in [h + 1, h + 2, 2 * h + 3, 10 * h + 7, *HUGE]:
        assert s(t) == final
    np.testing.assert_array_equal(s(np.arange(h, h + 500)), np.full(500, final))
    if h > 0:  # the horizon is the first step of the final value, not later
        assert s(h - 1) != final


@pytest.mark.parametrize("s", EXAMPLES, ids=IDS)
def test_text_round_trip(s: Schedule) -> None:
    text = str(s)
    assert repr(s) == text
    again = parse(text)
    assert again == s and hash(again) == hash(s) and str(again) == text
    np.testing.assert_array_equal(again(STEPS), s(STEPS))


@pytest.mark.parametrize("s", EXAMPLES, ids=IDS)
def test_dict_and_json_round_trip(s: Schedule) -> None:
    data = json.loads(json.dumps(s.to_dict()))
    again = from_dict(data)
    assert again == s and str(again) == str(s)


@pytest.mark.parametrize("s", EXAMPLES, ids=IDS)
def test_pickle_and_copy(s: Schedule) -> None:
    for again in (pickle.loads(pickle.dumps(s)), copy.deepcopy(s), copy.copy(s)):
        assert again == s
        assert again(17) == s(17)


@pytest.mark.parametrize("s", EXAMPLES, ids=IDS)
def test_immutable(s: Schedule) -> None:
    with pytest.raises(AttributeError):
        s.total_steps = 5  # type: ignore[misc]
    params = s.params
    params.clear()
    assert s.params != {}


@pytest.mark.parametrize("s", EXAMPLES, ids=IDS)
@pytest.mark.parametrize("bad", [-1, -0.5, float("nan"), float("inf"), -math.inf])
def test_bad_steps_raise_value_error(s: Schedule, bad: float) -> None:
    with pytest.raises(ValueError, match="`step` must be"):
        s(bad)
    with pytest.raises(ValueError, match="`step` must be"):
        s(np.array([0.0, bad]))


@pytest.mark.parametrize("bad", ["3", None, True, object()])
def test_non_numeric_steps_raise_type_error(bad: object) -> None:
    with pytest.raises(TypeError, match="`step` must be"):
        S.cosine(10)(bad)  # type: ignore[arg-type]


def test_equality_is_by_value() -> None:
    assert S.cosine(100, final=0.1) == S.cosine(100, final=0.1)
    assert S.cosine(100) != S.cosine(101)
    assert S.cosine(100) != S.polynomial(100)
    assert S.linear(1, 0, 10) == S.linear(1.0, 0.0, 10)
    assert S.warmup(5, S.cosine(10)) != S.warmup(5, S.cosine(11))
    assert len({S.cosine(100), S.cosine(100), S.cosine(100, final=0.0)}) == 1
    assert S.cosine(10) != "cosine(10)"


def test_join_boundaries_switch_to_the_local_clock() -> None:
    parts = [S.linear(0.1, 1.0, 20), S.cosine(80), S.constant(0.1)]
    s = S.join(parts, [20, 100])
    for t in range(0, 200):
        if t < 20:
            expected = parts[0](t)
        elif t < 100:
            expected = parts[1](t - 20)
        else:
            expected = parts[2](t - 100)
        assert s(t) == expected
    # parts that meet give a continuous join: no jump larger than one step of either part
    assert abs(s(20) - s(19)) < 0.05
    assert abs(s(100) - s(99)) < 0.11


def test_warmup_hands_over_continuously() -> None:
    for w, then in [(10, S.cosine(100)), (100, S.cosine(1000, final=0.1)),
                    (7, S.constant(0.5)), (50, S.linear(0.8, 0.1, 30))]:
        s = S.warmup(w, then)
        ramp = s(np.arange(w))
        assert ramp[0] == pytest.approx(then(0) / (w + 1))
        assert np.all(np.diff(ramp) > 0)
        # the ramp's steps are equal, and the next one lands exactly on then(0)
        np.testing.assert_allclose(np.diff(np.append(ramp, s(w))), then(0) / (w + 1))
        assert s(w) == then(0)
        assert s.horizon == w + then.horizon
