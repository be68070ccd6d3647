"""ReduceOnPlateau: same decisions as torch's ReduceLROnPlateau on positive metrics, correct
ones on negative metrics and in mode="max", and a state that resumes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lrkit.schedules import ReduceOnPlateau


def _torch_scales(metrics: list[float], **kwargs: object) -> list[float]:
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    # eps=0: torch skips reductions smaller than eps (absolute, in lr units); lrkit's scale has
    # min_scale as its only floor
    kwargs = {"eps": 0.0, **kwargs}
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **kwargs)  # type: ignore[arg-type]
    out = []
    for metric in metrics:
        sched.step(metric)
        out.append(opt.param_groups[0]["lr"])
    return out


SETTINGS = [
    {},
    {"factor": 0.5, "patience": 3},
    {"factor": 0.5, "patience": 2, "cooldown": 3},
    {"factor": 0.3, "patience": 1, "threshold": 0.05, "threshold_mode": "abs"},
    {"factor": 0.5, "patience": 0, "min_lr": 0.01},
    {"factor": 0.5, "patience": 2, "mode": "max", "threshold": 0.01},
]


@pytest.mark.parametrize("kwargs", SETTINGS, ids=[str(s) for s in SETTINGS])
def test_matches_torch_on_positive_metrics(kwargs: dict[str, object]) -> None:
    rng = np.random.default_rng(0)
    # a noisy loss that improves, stalls, improves a little, stalls: plenty of decisions
    metrics = list(np.concatenate([
        np.linspace(5, 2, 20), 2 + 0.02 * rng.standard_normal(40),
        np.linspace(2, 1.9, 10), 1.9 + 0.05 * rng.random(60),
    ]))
    if kwargs.get("mode") == "max":
        metrics = [10.0 - m for m in metrics]
    ours_kwargs = dict(kwargs)
    if "min_lr" in ours_kwargs:
        ours_kwargs["min_scale"] = ours_kwargs.pop("min_lr")
    plateau = ReduceOnPlateau(**ours_kwargs)  # type: ignore[arg-type]
    ours = [plateau.report(m) for m in metrics]
    expected = _torch_scales(metrics, **kwargs)
    np.testing.assert_allclose(ours, expected, rtol=1e-12)
    assert plateau.reductions >= 2


def test_negative_metrics_use_the_magnitude_of_best() -> None:
    # log-likelihood style losses: -100 then values that are slightly worse
    plateau = ReduceOnPlateau(factor=0.5, patience=2, threshold=1e-3)
    metrics = [-100.0, -99.95, -99.96, -99.97]
    scales = [plateau.report(m) for m in metrics]
    assert scales == [1.0, 1.0, 1.0, 0.5]  # three reports without improvement -> reduce
    # torch counts -99.95 as "better" than -100 (it compares with best * (1 - threshold))
    torch_scales = _torch_scales(metrics, factor=0.5, patience=2, threshold=1e-3)
    assert torch_scales[-1] == 1.0
    # a real improvement on a negative best is recognised
    plateau = ReduceOnPlateau(patience=0, threshold=1e-3)
    plateau.report(-100.0)
    assert plateau.improves(-100.2) and not plateau.improves(-100.05)


def test_max_mode_with_negative_values() -> None:
    plateau = ReduceOnPlateau(mode="max", factor=0.1, patience=1, threshold=0.01)
    assert [plateau.report(m) for m in [-5.0, -4.0, -3.999, -3.98, -3.0]] == [1, 1, 1, 0.1, 0.1]
    assert plateau.best == -3.0


def test_nan_never_improves_and_min_scale_is_a_floor() -> None:
    plateau = ReduceOnPlateau(factor=0.1, patience=0, min_scale=0.05)
    plateau.report(1.0)
    assert plateau.report(float("nan")) == pytest.approx(0.1)
    assert plateau.report(float("-inf")) == 0.05
    assert plateau.report(float("inf")) == 0.05 and plateau.best == 1.0


def test_state_dict_resumes_the_same_decisions() -> None:
    metrics = [3.0, 2.0, 2.0, 2.0, 1.5, 1.5, 1.5, 1.5, 1.4, 1.4, 1.4, 1.4]
    straight = ReduceOnPlateau(factor=0.5, patience=1, cooldown=1)
    expected = [straight.report(m) for m in metrics]
    first = ReduceOnPlateau(factor=0.5, patience=1, cooldown=1)
    got = [first.report(m) for m in metrics[:5]]
    second = ReduceOnPlateau(factor=0.5, patience=1, cooldown=1)
    second.load_state_dict(first.state_dict())
    got += [second.report(m) for m in metrics[5:]]
    assert got == expected


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"factor": 1.0}, "`factor` must be in (0.0, 1.0)"),
        ({"factor": 0.0}, "`factor` must be in (0.0, 1.0)"),
        ({"patience": -1}, "`patience` must be an integer >= 0"),
        ({"mode": "lowest"}, "`mode` must be one of 'min', 'max'"),
        ({"threshold_mode": "relative"}, "`threshold_mode` must be one of"),
        ({"threshold": -0.1}, "`threshold` must be >= 0"),
        ({"min_scale": 2.0}, "`min_scale` must be in [0.0, 1.0]"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(ValueError) as info:
        ReduceOnPlateau(**kwargs)  # type: ignore[arg-type]
    assert fragment in str(info.value)


def test_bad_metric_and_state() -> None:
    plateau = ReduceOnPlateau()
    with pytest.raises(TypeError, match="`metric` must be a real number"):
        plateau.report("low")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="missing"):
        plateau.load_state_dict({"scale": 0.5})
    assert plateau.report(torch.tensor(2.0)) == 1.0  # 0-d tensors are fine
    assert "ReduceOnPlateau(factor=0.1" in repr(plateau)
