"""The reference grid: its range, the skipped high side, the edge extension and the cache
(hits, keys, atomic files, two callers at once)."""

import json
import math
import threading

import numpy as np
import pytest

from lrkit.problems import GridResult, evaluate_lr, grid, grid_search
from lrkit.problems.quadratic import make_quadratic
from lrkit.schedules import constant


def tiny_quadratic(**kwargs):
    options = {
        "dim": 4,
        "n_train": 32,
        "n_held_out": 32,
        "steps": 30,
        "batch_size": None,
        "condition": 10.0,
        "curvature": 10.0,
    }
    options.update(kwargs)
    return make_quadratic(**options)


@pytest.fixture
def counted(monkeypatch):
    """Counts the training runs the grid makes."""
    calls = []
    real = grid.train

    def train(problem, lr, **kwargs):
        calls.append(lr)
        return real(problem, lr, **kwargs)

    monkeypatch.setattr(grid, "train", train)
    return calls


def test_grid_spans_the_default_rate_and_skips_the_high_side_after_two_divergences(counted):
    problem = tiny_quadratic()  # full-batch GD with L = 10: stable below 2/L = 0.2
    result = grid_search(problem, seeds=(0, 1), per_decade=2, schedule=constant(), cache_dir=None)
    assert result.lrs[0] == pytest.approx(problem.default_lr * 1e-4)
    np.testing.assert_allclose(np.diff(np.log10(result.lrs)), 0.5)
    assert np.isinf(result.losses[-2:]).all() and np.isfinite(result.losses[:-2]).any()
    assert result.lrs[-1] < problem.default_lr * 1e3  # the rest of the grid was never run
    assert len(counted) == 2 * len(result.lrs)
    assert result.best_lr < 2 / 10 and result.divergence_lr > result.best_lr
    assert result.best_loss == result.mean_losses.min() and math.isfinite(result.best_loss)
    assert result.best_loss == pytest.approx(
        evaluate_lr(problem, result.best_lr, seeds=(0, 1), schedule=constant()), rel=1e-12
    )


def test_best_rate_on_the_top_edge_extends_the_grid_upwards():
    problem = tiny_quadratic(curvature=1e-4, condition=1.0)  # stable up to 2e4 = 2e6 x default
    result = grid_search(problem, seeds=(0,), per_decade=1, cache_dir=None)
    assert result.lrs[-1] > problem.default_lr * 1e3
    assert result.best_lr > problem.default_lr * 1e3


def test_second_call_is_a_cache_hit(tmp_path, counted):
    problem = tiny_quadratic()
    first = grid_search(problem, seeds=(0,), per_decade=1, cache_dir=tmp_path)
    runs = len(counted)
    second = grid_search(problem, seeds=(0,), per_decade=1, cache_dir=tmp_path)
    assert not first.cache_hit and second.cache_hit
    assert len(counted) == runs  # nothing trained again
    np.testing.assert_array_equal(first.lrs, second.lrs)
    np.testing.assert_array_equal(first.losses, second.losses)
    assert (first.best_lr, first.best_loss, first.schedule) == (
        second.best_lr,
        second.best_loss,
        second.schedule,
    )
    files = list(tmp_path.glob("*.json"))
    assert len(files) == 1 and files[0].name.startswith("quadratic-k10-full-")
    assert not list(tmp_path.glob("*.tmp"))
    assert not list(tmp_path.glob("*.lock"))  # the lock file goes with the lock


def test_cache_key_covers_seeds_steps_schedule_and_per_decade(tmp_path):
    problem = tiny_quadratic()
    base = {"seeds": (0,), "per_decade": 1, "cache_dir": tmp_path}
    grid_search(problem, **base)
    variants = [{"seeds": (1,)}, {"steps": 10}, {"schedule": constant()}, {"per_decade": 2}]
    for change in variants:
        assert not grid_search(problem, **{**base, **change}).cache_hit, change
    assert grid_search(problem, **{**base, "schedule": "constant()"}).cache_hit
    assert len(list(tmp_path.glob("*.json"))) == 5


def test_a_changed_problem_does_not_read_a_stale_grid(tmp_path):
    grid_search(tiny_quadratic(), seeds=(0,), per_decade=1, cache_dir=tmp_path)
    changed = tiny_quadratic(noise=0.5, name="quadratic-k10-full")
    assert not grid_search(changed, seeds=(0,), per_decade=1, cache_dir=tmp_path).cache_hit


def test_no_cache_for_none_or_a_schedule_without_text(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    grid_search(tiny_quadratic(), seeds=(0,), per_decade=1, cache_dir=None)
    grid_search(
        tiny_quadratic(),
        seeds=(0,),
        per_decade=1,
        cache_dir=tmp_path / "c",
        schedule=lambda step: 1.0,
    )
    assert not list(tmp_path.rglob("*.json"))


def test_default_cache_directory_follows_lrkit_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LRKIT_CACHE", str(tmp_path / "cache"))
    grid_search(tiny_quadratic(), seeds=(0,), per_decade=1)
    assert len(list((tmp_path / "cache" / "grid").glob("*.json"))) == 1
    monkeypatch.delenv("LRKIT_CACHE")
    monkeypatch.chdir(tmp_path)
    assert grid.default_cache_directory() == tmp_path / ".lrkit-cache" / "grid"


def test_a_corrupt_cache_file_is_recomputed_and_replaced(tmp_path, caplog):
    problem = tiny_quadratic()
    first = grid_search(problem, seeds=(0,), per_decade=1, cache_dir=tmp_path)
    (path,) = tmp_path.glob("*.json")
    path.write_text("{ torn")
    again = grid_search(problem, seeds=(0,), per_decade=1, cache_dir=tmp_path)
    assert not again.cache_hit and "unreadable grid cache" in caplog.text
    np.testing.assert_array_equal(first.losses, again.losses)
    assert json.loads(path.read_text())["result"]["problem"] == problem.name


def test_two_callers_at_once_compute_the_grid_once(tmp_path, monkeypatch):
    computed = []
    real = grid._compute

    def compute(*args, **kwargs):
        computed.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(grid, "_compute", compute)
    results = [None] * 4

    def call(i):
        results[i] = grid_search(tiny_quadratic(), seeds=(0, 1), per_decade=2, cache_dir=tmp_path)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # the waiters read the first caller's result, also those that had opened the lock
    # file it removed when it was done
    assert len(computed) == 1
    assert sorted(r.cache_hit for r in results) == [False, True, True, True]
    for other in results[1:]:
        np.testing.assert_array_equal(results[0].losses, other.losses)
    assert not list(tmp_path.glob("*.lock"))


def test_result_round_trips_through_json_with_infinities():
    result = grid_search(tiny_quadratic(), seeds=(0, 1), per_decade=1, cache_dir=None)
    back = GridResult.from_dict(json.loads(json.dumps(result.to_dict())))
    np.testing.assert_array_equal(back.losses, result.losses)
    assert np.isinf(back.losses).any()
    assert back.best_lr == result.best_lr and back.ratio(2 * back.best_loss) == pytest.approx(2.0)


def test_bad_arguments():
    with pytest.raises(ValueError, match="`per_decade` must be a positive integer"):
        grid_search(tiny_quadratic(), per_decade=0, cache_dir=None)
    with pytest.raises(TypeError, match="`seeds` must be a non-empty sequence"):
        grid_search(tiny_quadratic(), seeds=3, cache_dir=None)
    with pytest.raises(TypeError, match="`cache_dir` must be a path"):
        grid_search(tiny_quadratic(), seeds=(0,), cache_dir=3)
