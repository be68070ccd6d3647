"""Each family's formula at known points, and its argument checks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lrkit import schedules as S


def test_constant_and_linear() -> None:
    assert S.constant()(0) == 1.0 and S.constant(0.25)(10**6) == 0.25
    s = S.linear(0.2, 1.0, 8)
    assert [s(t) for t in (0, 4, 8, 9)] == pytest.approx([0.2, 0.6, 1.0, 1.0])


def test_step_multistep_exponential_inverse_time() -> None:
    s = S.step(3, 0.5)
    assert [s(t) for t in range(7)] == [1, 1, 1, 0.5, 0.5, 0.5, 0.25]
    m = S.multistep([2, 5], 0.1)
    assert [m(t) for t in range(7)] == pytest.approx([1, 1, 0.1, 0.1, 0.1, 0.01, 0.01])
    assert S.exponential(0.9)(10) == pytest.approx(0.9**10)
    assert S.inverse_time(0.5)(6) == pytest.approx(0.25)
    assert S.inverse_time(0.0)(10**9) == 1.0


def test_polynomial_and_cosine() -> None:
    p = S.polynomial(10, power=3.0, final=0.1)
    assert p(5) == pytest.approx(0.1 + 0.9 * 0.5**3)
    assert p(10) == 0.1
    c = S.cosine(8, final=0.2)
    expected = [0.2 + 0.8 * (1 + math.cos(math.pi * t / 8)) / 2 for t in range(9)]
    assert [c(t) for t in range(9)] == pytest.approx(expected)
    assert c(9) == 0.2  # holds; torch's CosineAnnealingLR would rise again here


def test_cosine_restarts_cycles_grow_and_peaks_decay() -> None:
    s = S.cosine_restarts(4, mult=2, decay=0.5, final=0.1)
    starts = [0, 4, 12, 28, 60]
    for i, start in enumerate(starts):
        assert s(start) == pytest.approx(0.1 + 0.9 * 0.5**i)
        assert start == 0 or s(start - 1) < s(start)
    # middle of cycle 1 (length 8): half of its amplitude
    assert s(8) == pytest.approx(0.1 + 0.9 * 0.5 * 0.5)
    # the closed-form cycle index of the vectorised path matches a plain loop far out
    t = np.array([2**k - 1 for k in range(2, 50)] + [2**k for k in range(2, 50)], dtype=np.float64)
    np.testing.assert_allclose(s(t), [s(int(x)) for x in t], rtol=1e-9, atol=1e-15)


def test_cyclic_modes() -> None:
    tri = S.cyclic(10, 0.2)
    assert [tri(t) for t in (0, 5, 10, 15)] == pytest.approx([0.2, 1.0, 0.2, 1.0])
    tri2 = S.cyclic(10, 0.2, mode="triangular2")
    assert [tri2(t) for t in (5, 15, 25)] == pytest.approx([1.0, 0.6, 0.4])
    exp = S.cyclic(10, 0.2, mode="exp_range", gamma=0.9)
    assert exp(5) == pytest.approx(0.2 + 0.8 * 0.9**5)


def test_one_cycle_phases() -> None:
    s = S.one_cycle(100, warmup_steps=21, initial=0.1, final=0.001)
    assert s(0) == pytest.approx(0.1) and s(20) == pytest.approx(1.0)
    assert s(99) == pytest.approx(0.001) and s(10**6) == 0.001
    assert np.all(np.diff(s(np.arange(21))) > 0) and np.all(np.diff(s(np.arange(20, 100))) < 0)
    three = S.one_cycle(100, warmup_steps=21, initial=0.1, final=0.001, three_phase=True)
    assert three(40) == pytest.approx(0.1) and three(99) == pytest.approx(0.001)
    assert S.one_cycle(100) == S.one_cycle(100, warmup_steps=30)
    assert str(S.one_cycle(100, warmup_steps=30)) == "one_cycle(100)"


def test_inverse_sqrt_and_wsd() -> None:
    s = S.inverse_sqrt(4)
    assert [s(t) for t in range(5)] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    assert s(16) == pytest.approx(0.5)
    w = S.wsd(100, 10, 40, final=0.1, decay="cosine")
    assert w(0) == pytest.approx(1 / 11) and w(10) == 1.0 and w(59) == 1.0
    assert w(80) == pytest.approx(0.1 + 0.9 * 0.5) and w(100) == 0.1
    r = S.wsd(100, 0, 100, decay="1-sqrt")
    assert r(25) == pytest.approx(0.5) and r(0) == 1.0


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: S.cosine(0), "`total_steps` must be a positive integer, but got total_steps=0"),
        (lambda: S.cosine(-3), "total_steps=-3"),
        (lambda: S.cosine(10, final=1.5), "`final` must be in [0.0, 1.0], but got final=1.5"),
        (lambda: S.cosine(10, final=float("nan")), "`final` must be finite"),
        (lambda: S.linear(-0.1, 1, 10), "`start` must be >= 0"),
        (lambda: S.step(0, 0.5), "`every` must be a positive integer"),
        (lambda: S.step(10, 0.0), "`gamma` must be in (0.0, 1.0]"),
        (lambda: S.exponential(1.5), "`gamma` must be in (0.0, 1.0], but got gamma=1.5"),
        (lambda: S.multistep([20, 10], 0.1), "`milestones` must be strictly increasing"),
        (lambda: S.multistep([10, 10], 0.1), "strictly increasing"),
        (lambda: S.multistep([], 0.1), "`milestones` must not be empty"),
        (lambda: S.multistep([0, 10], 0.1), "`milestones` must be a positive integer"),
        (lambda: S.polynomial(10, power=0), "`power` must be in (0.0, inf)"),
        (lambda: S.inverse_time(-1), "`rate` must be >= 0"),
        (lambda: S.cosine_restarts(0), "`period` must be a positive integer"),
        (lambda: S.cosine_restarts(10, decay=0), "`decay` must be in (0.0, 1.0]"),
        (lambda: S.cyclic(10, 1.5), "`low` must be in [0.0, 1.0]"),
        (lambda: S.cyclic(10, 0.1, mode="sine"), "`mode` must be one of"),
        (lambda: S.cyclic(10, 0.1, gamma=0.9), "`gamma` must be 1 unless mode='exp_range'"),
        (lambda: S.one_cycle(100, warmup_steps=100), "`warmup_steps` must be <= 99"),
        (lambda: S.one_cycle(100, warmup_steps=51, three_phase=True), "<= 50"),
        (lambda: S.one_cycle(100, anneal="cos"), "`anneal` must be one of"),
        (lambda: S.one_cycle(100, final=0.5), "`final` must be in [0.0, 0.04]"),
        (lambda: S.inverse_sqrt(0), "`warmup_steps` must be a positive integer"),
        (lambda: S.wsd(100, 60, 50), "`warmup_steps + decay_steps <= total_steps` must hold"),
        (lambda: S.wsd(100, 10, 50, decay="sqrt"), "`decay` must be one of"),
        (lambda: S.warmup(-1, S.constant()), "`warmup_steps` must be an integer >= 0"),
        (lambda: S.join([S.constant(), S.cosine(5)], [10, 20]), "one entry fewer"),
        (lambda: S.join([S.constant(), S.cosine(5), S.constant()], [20, 10]),
         "`boundaries` must be strictly increasing"),
        (lambda: S.join([], []), "`schedules` must not be empty"),
        (lambda: S.cosine(2**53 + 1), "`total_steps` must be <= 2**53"),
        (lambda: S.cosine(9.3e18), "`total_steps` must be <= 2**53"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(build, message: str) -> None:
    with pytest.raises(ValueError) as info:
        build()
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: S.cosine("100"), "`total_steps` must be an integer"),
        (lambda: S.cosine(10.5), "`total_steps` must be an integer, but got total_steps=10.5"),
        (lambda: S.cosine(10, final="0.1"), "`final` must be a real number"),
        (lambda: S.warmup(10, "cosine(10)"), "`then` must be an lrkit schedule"),
        (lambda: S.warmup(10, lambda t: 1.0), "`then` must be an lrkit schedule"),
        (lambda: S.multistep(10, 0.1), "`milestones` must be a list"),
        (lambda: S.join(S.cosine(10), []), "`schedules` must be a list"),
        (lambda: S.one_cycle(100, three_phase=1), "`three_phase` must be True or False"),
        (lambda: S.cosine(True), "`total_steps` must be an integer"),
    ],
)
def test_wrong_types_raise_type_error(build, message: str) -> None:
    with pytest.raises(TypeError) as info:
        build()
    assert message in str(info.value)


def test_families_lists_every_factory_with_signature_and_summary() -> None:
    rows = S.families()
    assert [row.name for row in rows] == list(S.FACTORIES)
    by_name = {row.name: row for row in rows}
    assert by_name["cosine"].signature == "cosine(total_steps, final=0.0)"
    assert by_name["wsd"].signature.startswith("wsd(total_steps, warmup_steps, decay_steps")
    assert all(row.summary and "\n" not in row.summary for row in rows)


@pytest.mark.parametrize("period, mult", [(1, 10), (3, 10), (7, 10), (12345, 1000), (10, 2), (1, 3)])
def test_cosine_restarts_array_finds_every_cycle_start_up_to_2_53(period: int, mult: int) -> None:
    # the numpy path must put each restart at the same step as the exact scalar one, even
    # where period * (mult**i - 1) / (mult - 1) is not an exact float (e.g. 1111111111111111)
    s = S.cosine_restarts(period, mult=mult, decay=0.9, final=0.01)
    starts, start, length = [], 0, period
    while start <= 2**53:
        starts.append(start)
        start, length = start + length, length * mult
    steps = np.array([t + d for t in starts for d in (-1, 0, 1) if 0 <= t + d <= 2**53])
    np.testing.assert_allclose(s(steps.astype(np.float64)), [s(int(t)) for t in steps],
                               rtol=1e-9, atol=1e-12)
