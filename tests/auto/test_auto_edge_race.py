"""The edge sweep and the racing helpers."""

from __future__ import annotations

import math

import pytest

from lrkit.auto.edge import find_edge
from lrkit.auto.race import compressed_multipliers, parabola_minimum, walk_race


def gradient_descent(curvature: float):
    state = {"x": 1.0}

    def step(lr: float) -> float:
        loss = 0.5 * curvature * state["x"] ** 2
        state["x"] -= lr * curvature * state["x"]
        return loss

    return step


@pytest.mark.parametrize("curvature", [1.0, 10.0, 100.0])
def test_edge_is_near_two_over_the_curvature(curvature):
    edge = find_edge(gradient_descent(curvature), start=1e-5, end=100.0, num=60)
    assert edge.diverged
    # a fast ramp overshoots a little: a blow-up takes a few steps to show
    assert 0.5 * 2 / curvature < edge.top < 6 * 2 / curvature


def test_saturating_loss_reports_the_rate_of_lowest_loss():
    # the loss improves up to lr=1e-2 and gets (boundedly) worse after: no blow-up
    def step(lr):
        x = math.log10(lr) + 2.0
        return 1.0 + (0.04 if x < 0 else 0.01) * x * x

    edge = find_edge(step, start=1e-6, end=1.0, num=25)
    assert not edge.diverged
    assert 1e-3 < edge.top < 0.1  # near the minimum at 1e-2 (the smoothed curve lags a little)


def test_negative_losses_work():
    step = gradient_descent(10.0)
    edge = find_edge(lambda lr: step(lr) - 100.0, start=1e-4, end=10.0, num=40)
    assert edge.diverged and 0.05 < edge.top < 0.8


def test_compressed_schedule_keeps_the_shape():
    shape = lambda t: 1.0 - t / 1000  # noqa: E731
    multipliers = compressed_multipliers(shape, steps=1000, horizon=10)
    assert multipliers == pytest.approx([1.0 - k / 10 for k in range(10)])


def test_parabola_minimum():
    import numpy as np

    x = np.log([0.01, 0.03, 0.09])
    scores = [(v - math.log(0.02)) ** 2 for v in x]
    assert math.exp(parabola_minimum(x, scores)) == pytest.approx(0.02, rel=1e-6)
    assert parabola_minimum(x, [1.0, 2.0, 1.0]) is None  # concave: no minimum
    assert parabola_minimum(x, [1.0, math.inf, 1.0]) is None
    # clipped to half a step on either side of the middle point
    assert parabola_minimum([0.0, 1.0, 2.0], [10.0, 1.0, 1.0 + 1e-9]) <= 1.5


def test_parabola_minimum_with_uneven_spacing():
    # the exact vertex of a parabola sampled at uneven points
    x = [0.0, 1.0, 1.5]
    assert parabola_minimum(x, [(v - 1.2) ** 2 for v in x]) == pytest.approx(1.2)
    assert parabola_minimum([0.0, 2.0, 3.0], [(v - 1.5) ** 2 for v in (0.0, 2.0, 3.0)]) \
        == pytest.approx(1.5)


def bowl(best: float):
    raced = []

    def score(lr: float) -> float:
        raced.append(lr)
        return (math.log(lr) - math.log(best)) ** 2

    return score, raced


@pytest.mark.parametrize("best", [1e-4, 3e-3, 0.02, 0.3, 0.9])
def test_walk_brackets_the_valley_and_refines_next_to_it(best):
    score, raced = bowl(best)
    walk = walk_race(score, top=1.0, slots=8)
    assert [lr for lr, _ in walk] == raced and len(raced) == len(set(raced)) <= 8
    assert all(lr <= 1.0 for lr in raced)
    closest = min(raced, key=lambda lr: abs(math.log(lr / best)))
    # within half a lattice step (a factor sqrt(3)) of the floor, unless the floor is
    # beyond the lattice's top or further down than 8 slots reach
    if best < 1.0 and best > 3.0 ** -8:
        assert abs(math.log(closest / best)) <= math.log(3.0) / 4 + 1e-9


def test_walk_stops_at_the_top_and_never_races_above_it():
    score, raced = bowl(10.0)
    walk_race(score, top=1.0, slots=5)
    assert max(raced) == pytest.approx(1.0) and raced[:2] == pytest.approx([1 / 9, 1 / 3])


def test_walk_treats_a_blow_up_as_the_worse_side():
    # lower is better up to a cliff at 0.5: the walk climbs to the blow-up at the top, then
    # refines on the finite side first and tries the cliff's side with the slot left
    def score(lr):
        return math.inf if lr > 0.5 else -lr

    walk = walk_race(score, top=1.0, slots=5)
    assert [lr for lr, _ in walk] == pytest.approx([1 / 9, 1 / 3, 1.0, 3 ** -1.5, 3 ** -0.5])
    assert min(walk, key=lambda c: c[1])[0] == pytest.approx(1 / 3)


def test_walk_rejects_too_few_slots():
    with pytest.raises(ValueError, match="slots"):
        walk_race(lambda lr: 0.0, top=1.0, slots=1)


def test_walk_keeps_going_down_while_everything_blows_up():
    # every rate above 0.01 blows up (nan counts as a blow-up): the walk must find the rates
    # that train, far below where it started
    raced = []

    def score(lr):
        raced.append(lr)
        return math.nan if lr > 0.05 else (math.inf if lr > 0.01 else 1.0 - lr)

    walk = walk_race(score, top=1.0, slots=6)
    finite = [lr for lr, s in walk if math.isfinite(s)]
    assert finite and max(finite) <= 0.01 and len(walk) == 6
    assert raced[:5] == pytest.approx([1 / 9, 1 / 3, 1 / 27, 1 / 81, 1 / 243])
    assert all(s == math.inf for lr, s in walk if lr > 0.01)


@pytest.mark.parametrize("slots", [2, 3])
def test_walk_with_few_slots(slots):
    score, raced = bowl(0.05)
    walk = walk_race(score, top=1.0, slots=slots)
    assert len(walk) == slots and raced[:2] == pytest.approx([1 / 9, 1 / 3])
    if slots == 3:  # the one slot left walks on, towards the better side
        assert raced[2] == pytest.approx(1 / 27)


def test_walk_goes_down_on_a_tie_and_stops_on_the_next_tie():
    walk = walk_race(lambda lr: 1.0, top=1.0, slots=5)
    rates = [lr for lr, _ in walk]
    assert rates[:3] == pytest.approx([1 / 9, 1 / 3, 1 / 27])
    assert len(rates) == 5 and len(set(rates)) == 5  # then the two half steps beside the best


def test_walk_rejects_a_spacing_that_would_climb_above_the_top():
    with pytest.raises(ValueError, match="spacing"):
        walk_race(lambda lr: 0.0, top=1.0, slots=5, spacing=0.5)


def test_walk_rejects_an_infinite_spacing():
    with pytest.raises(ValueError, match="spacing"):
        walk_race(lambda lr: 0.0, top=1.0, slots=5, spacing=math.inf)


def test_a_cliff_above_the_best_moves_the_pick_halfway_down():
    from lrkit.auto.core import _pick

    # scores rise by 0.02 below the best and by 1.0 above it: a cliff above
    lr, why = _pick([(0.01, 0.52), (0.03, 0.50), (0.09, 1.50)], bracketed=True)
    assert lr == pytest.approx(math.sqrt(0.01 * 0.03)) and "cliff above" in why
    # a cliff below (too small a rate is what hurts): the best itself, not a step up
    lr, _ = _pick([(0.01, 1.50), (0.03, 0.50), (0.09, 0.52)], bracketed=True)
    assert lr == pytest.approx(0.03)
    # a smooth valley: the parabola's minimum, between the neighbours
    lr, why = _pick([(0.01, 0.60), (0.03, 0.50), (0.09, 0.62)], bracketed=True)
    assert 0.01 < lr < 0.09 and lr != pytest.approx(0.03) and "parabola" in why


def test_sweep_progress_reads_how_far_the_loss_fell():
    # gradient descent drives the loss to about 0: progress is about all of the start
    edge = find_edge(gradient_descent(10.0), start=1e-5, end=10.0, num=40)
    assert 0.9 < edge.progress <= 1.0
    # a loss that no rate moves has made no progress
    flat = find_edge(lambda lr: 2.3, start=1e-6, end=10.0, num=30)
    assert flat.progress == pytest.approx(0.0, abs=1e-12)


def test_sweep_progress_ignores_the_blow_up_and_scales_by_the_start():
    from types import SimpleNamespace

    from lrkit.auto.edge import sweep_progress

    # started at 4, smoothed low point 3 before the blow-up at index 8: a quarter
    curve = SimpleNamespace(losses=[4.0] * 6 + [3.0] * 4, smoothed=[4.0] * 6 + [3.0, 3.0, 0.0, 0.0],
                            divergence_index=8)
    assert sweep_progress(curve) == pytest.approx(0.25)
    # a negative loss is scaled by its size: -4 down to -5 is a quarter too
    negative = SimpleNamespace(losses=[-4.0] * 10, smoothed=[-4.0] * 9 + [-5.0], divergence_index=None)
    assert sweep_progress(negative) == pytest.approx(0.25)
    # nothing finite to read, or a start of exactly 0: no answer rather than a made-up one
    broken = SimpleNamespace(losses=[math.nan] * 10, smoothed=[math.nan] * 10, divergence_index=None)
    assert math.isnan(sweep_progress(broken))
    zero = SimpleNamespace(losses=[0.0] * 10, smoothed=[0.0] * 10, divergence_index=None)
    assert math.isnan(sweep_progress(zero))


def test_sweep_progress_is_robust_to_one_odd_loss_at_the_start_and_to_gaps():
    from types import SimpleNamespace

    from lrkit.auto.edge import sweep_progress

    # the start is the median of the first five: one odd first batch does not move it
    odd_first = SimpleNamespace(losses=[9.0] + [4.0] * 9, smoothed=[9.0] + [4.0] * 8 + [2.0],
                                divergence_index=None)
    assert sweep_progress(odd_first) == pytest.approx(0.5)
    # a nan inside the head or the curve is passed over, not propagated
    gaps = SimpleNamespace(losses=[4.0, math.nan] + [4.0] * 8,
                           smoothed=[4.0, math.nan] + [4.0] * 7 + [3.0], divergence_index=None)
    assert sweep_progress(gaps) == pytest.approx(0.25)
    # a loss that only rose made no progress: 0, never negative
    rising = SimpleNamespace(losses=[2.0] * 5 + [3.0] * 5, smoothed=[2.2] * 10, divergence_index=None)
    assert sweep_progress(rising) == 0.0
    # a blow-up within the first five losses does not count as the untrained loss
    early = SimpleNamespace(losses=[4.0, 4.0, 400.0, 400.0, 400.0], smoothed=[4.0, 3.0, 90.0, 200.0, 300.0],
                            divergence_index=2)
    assert sweep_progress(early) == pytest.approx(0.25)


def test_a_coarse_sweep_dates_the_blow_up_to_the_update_that_caused_it():
    # 12 rates over 7 decades, 4.3x apart: the loss of step i is taken before update i,
    # so a loss that blew up at the last rate (10) was blown up by the update before it
    edge = find_edge(gradient_descent(10.0), start=1e-6, end=10.0, num=12)
    assert edge.diverged and edge.top < 3.0


def test_a_blow_up_before_the_reference_is_set_is_caught():
    from lrkit.auto.blowup import BlowUp

    watch = BlowUp(warmup=8)
    # a loss that grows 40x and more per step from the first: caught long before the
    # eighth loss, which would have been 1e12 times the start
    assert [watch.update(v) for v in (12.0, 9.5, 413.0)] == [False, False, True]
    assert watch.reason == "spike"
    calm = BlowUp(warmup=8)  # a noisy but healthy start is not
    assert not any(calm.update(v) for v in (2.3, 2.9, 1.8, 3.5, 2.2, 2.6, 2.0, 2.4))
    # nor a heavy-tailed one (a fine-tuned model: most batches fit, some hold outliers)
    tails = BlowUp(warmup=8)
    assert not any(tails.update(v) for v in (0.013, 0.881, 0.008, 0.878, 0.009, 0.86, 0.017))
