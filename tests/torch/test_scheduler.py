"""ScheduleLR: differential tests against torch's schedulers, resume, tensor rates, groups."""

from __future__ import annotations

import io
import math
from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler as tls

from lrkit import schedules as S
from lrkit.schedules import ReduceOnPlateau
from lrkit.torch import ScheduleLR

BASE_LR = 0.1
STEPS = 1200


def _drive(make: Callable[[torch.optim.Optimizer], object], steps: int = STEPS,
           lr: float = BASE_LR) -> tuple[np.ndarray, torch.Tensor]:
    """The rate of every update of a real SGD run, and the final parameters."""
    torch.manual_seed(0)
    p = torch.nn.Parameter(torch.zeros(3))
    opt = torch.optim.SGD([p], lr=lr, momentum=0.9)
    sched = make(opt)
    rates = []
    for t in range(steps):
        rates.append(float(opt.param_groups[0]["lr"]))
        p.grad = torch.full_like(p, math.sin(t) + 0.5)
        opt.step()
        sched.step()
    return np.array(rates), p.detach().clone()


# (torch scheduler factory, equivalent lrkit schedule, steps compared)
CASES = {
    "StepLR": (lambda o: tls.StepLR(o, step_size=30, gamma=0.7), S.step(30, 0.7), STEPS),
    "MultiStepLR": (lambda o: tls.MultiStepLR(o, [100, 400, 700], gamma=0.1),
                    S.multistep([100, 400, 700], 0.1), STEPS),
    "ExponentialLR": (lambda o: tls.ExponentialLR(o, gamma=0.997), S.exponential(0.997), STEPS),
    "CosineAnnealingLR": (lambda o: tls.CosineAnnealingLR(o, T_max=1000, eta_min=0.001),
                          S.cosine(1000, final=0.01), 1001),
    "CosineAnnealingLR-to-zero": (lambda o: tls.CosineAnnealingLR(o, T_max=1100),
                                  S.cosine(1100), 1100),
    "LinearLR": (lambda o: tls.LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=500),
                 S.linear(0.1, 1.0, 500), STEPS),
    "LinearLR-decay": (lambda o: tls.LinearLR(o, start_factor=1.0, end_factor=0.05,
                                              total_iters=1000), S.linear(1.0, 0.05, 1000), STEPS),
    "ConstantLR": (lambda o: tls.ConstantLR(o, factor=0.25, total_iters=300),
                   S.join([S.constant(0.25), S.constant()], [300]), STEPS),
    "PolynomialLR": (lambda o: tls.PolynomialLR(o, total_iters=1000, power=2.0),
                     S.polynomial(1000, power=2.0), STEPS),
    "OneCycleLR": (lambda o: tls.OneCycleLR(o, max_lr=BASE_LR, total_steps=STEPS, pct_start=0.25,
                                            cycle_momentum=False),
                   S.one_cycle(STEPS, warmup_steps=300, initial=1 / 25, final=1 / 25 / 1e4), STEPS),
    "OneCycleLR-linear-3phase": (
        lambda o: tls.OneCycleLR(o, max_lr=BASE_LR, total_steps=STEPS, pct_start=0.25,
                                 anneal_strategy="linear", three_phase=True, div_factor=10,
                                 final_div_factor=100, cycle_momentum=False),
        S.one_cycle(STEPS, warmup_steps=300, initial=0.1, final=0.001, anneal="linear",
                    three_phase=True), STEPS),
    "CyclicLR": (lambda o: tls.CyclicLR(o, base_lr=0.01, max_lr=BASE_LR, step_size_up=50,
                                        cycle_momentum=False), S.cyclic(100, 0.1), STEPS),
    "CyclicLR-triangular2": (
        lambda o: tls.CyclicLR(o, base_lr=0.02, max_lr=BASE_LR, step_size_up=75,
                               mode="triangular2", cycle_momentum=False),
        S.cyclic(150, 0.2, mode="triangular2"), STEPS),
    "CyclicLR-exp_range": (
        lambda o: tls.CyclicLR(o, base_lr=0.01, max_lr=BASE_LR, step_size_up=60,
                               mode="exp_range", gamma=0.999, cycle_momentum=False),
        S.cyclic(120, 0.1, mode="exp_range", gamma=0.999), STEPS),
    "CosineAnnealingWarmRestarts": (
        lambda o: tls.CosineAnnealingWarmRestarts(o, T_0=100, eta_min=0.001),
        S.cosine_restarts(100, final=0.01), STEPS),
    "CosineAnnealingWarmRestarts-mult2": (
        lambda o: tls.CosineAnnealingWarmRestarts(o, T_0=50, T_mult=2, eta_min=0.0),
        S.cosine_restarts(50, mult=2), STEPS),
}


@pytest.mark.parametrize("name", list(CASES))
def test_same_rates_as_torch(name: str) -> None:
    make_torch, schedule, compared = CASES[name]
    torch_rates, torch_params = _drive(make_torch)
    ours, our_params = _drive(lambda o: ScheduleLR(o, schedule))
    assert compared >= 1000
    np.testing.assert_allclose(ours[:compared], torch_rates[:compared], rtol=1e-6, atol=1e-14)
    # the pure schedule gives the same numbers without any optimizer
    np.testing.assert_allclose(ours, BASE_LR * schedule(np.arange(STEPS)), rtol=1e-12)
    if compared == STEPS:
        torch.testing.assert_close(our_params, torch_params, rtol=1e-5, atol=1e-7)


def test_deliberate_difference_cosine_holds_where_torch_rises() -> None:
    torch_rates, _ = _drive(lambda o: tls.CosineAnnealingLR(o, T_max=1000, eta_min=0.001))
    ours, _ = _drive(lambda o: ScheduleLR(o, S.cosine(1000, final=0.01)))
    assert torch_rates[1100] > torch_rates[1000] * 3  # torch's curve climbs back up
    assert np.all(np.diff(torch_rates[1000:]) > 0)
    assert np.all(ours[1000:] == ours[1000]) and ours[1000] == pytest.approx(0.001)


def test_deliberate_difference_one_cycle_holds_where_torch_raises() -> None:
    s = S.one_cycle(100, warmup_steps=25)
    p = torch.nn.Parameter(torch.zeros(1))
    opt_torch = torch.optim.SGD([p], lr=BASE_LR)
    sched_torch = tls.OneCycleLR(opt_torch, max_lr=BASE_LR, total_steps=100, pct_start=0.25,
                                 cycle_momentum=False)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=BASE_LR)
    ours = ScheduleLR(opt, s)
    for _ in range(100):
        opt_torch.step()
        sched_torch.step()
        ours.step()
    with pytest.raises(ValueError, match="Tried to step"):
        sched_torch.step()
    for _ in range(TOTAL):
        ours.step()
    assert ours.get_last_lr() == [BASE_LR * s(99)]


# -- the scheduler itself -------------------------------------------------------------

def _model_and_optimizer(lr: float | torch.Tensor = 0.05) -> tuple[torch.nn.Module,
                                                                    torch.optim.Optimizer]:
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    opt = torch.optim.AdamW(
        [{"params": model[0].parameters()}, {"params": model[2].parameters(), "lr": lr * 0.1}],
        lr=lr,
    )
    return model, opt


TOTAL = 640  # stop at 437, resume, run to TOTAL


def _train(model: torch.nn.Module, opt: torch.optim.Optimizer, sched: ScheduleLR,
           steps: range, rates: list[list[float]]) -> None:
    for t in steps:
        g = torch.Generator().manual_seed(t)
        x = torch.randn(8, 4, generator=g)
        loss = (model(x) - x.sum(dim=1, keepdim=True)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        rates.append([float(group["lr"]) for group in opt.param_groups])
        opt.step()
        sched.step()
        if t % 50 == 49 and sched.plateau is not None:
            sched.report(1.0)  # a flat metric: the plateau reduces now and then


@pytest.mark.parametrize(("tensor_lr", "optimizer_state_first"), [(False, False), (True, True)],
                         ids=["float-lr-scheduler-first", "tensor-lr-optimizer-first"])
def test_resume_at_437_is_bit_identical(tensor_lr: bool, optimizer_state_first: bool) -> None:
    schedule = S.warmup(50, S.cosine(TOTAL - 50, final=0.05))

    def build() -> tuple[torch.nn.Module, torch.optim.Optimizer]:
        lr: float | torch.Tensor = torch.tensor(0.05) if tensor_lr else 0.05
        return _model_and_optimizer(lr)

    model, opt = build()
    sched = ScheduleLR(opt, schedule, plateau=ReduceOnPlateau(factor=0.5, patience=1), scale=0.9)
    straight: list[list[float]] = []
    _train(model, opt, sched, range(TOTAL), straight)
    final_params = [p.detach().clone() for p in model.parameters()]

    model, opt = build()
    sched = ScheduleLR(opt, schedule, plateau=ReduceOnPlateau(factor=0.5, patience=1), scale=0.9)
    resumed: list[list[float]] = []
    _train(model, opt, sched, range(437), resumed)
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(),
                "sched": sched.state_dict()}, buffer)
    buffer.seek(0)
    checkpoint = torch.load(buffer, weights_only=True)  # plain values only

    model, opt = build()
    if optimizer_state_first:  # the optimizer already holds step 437's rates when read
        opt.load_state_dict(checkpoint["opt"])
        sched = ScheduleLR(opt, schedule, plateau=ReduceOnPlateau(factor=0.5, patience=1))
    else:
        sched = ScheduleLR(opt, schedule, plateau=ReduceOnPlateau(factor=0.5, patience=1))
        opt.load_state_dict(checkpoint["opt"])
    sched.load_state_dict(checkpoint["sched"])
    model.load_state_dict(checkpoint["model"])
    assert sched.last_epoch == 437 and sched.scale == 0.9
    _train(model, opt, sched, range(437, TOTAL), resumed)

    assert resumed == straight  # exact equality of every rate of every group
    for before, after in zip(final_params, model.parameters(), strict=True):
        assert torch.equal(before, after)
    assert sched.plateau is not None and sched.plateau.reductions > 0


def test_tensor_rates_are_updated_in_place() -> None:
    lr = torch.tensor(0.01, dtype=torch.float64)
    p = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.Adam([p], lr=lr)
    sched = ScheduleLR(opt, S.linear(1.0, 0.0, 10))
    for t in range(12):
        assert opt.param_groups[0]["lr"] is lr
        assert float(lr) == pytest.approx(0.01 * max(0.0, 1 - t / 10))
        p.grad = torch.ones_like(p)
        opt.step()
        sched.step()
    assert lr.dtype == torch.float64


def test_never_wraps_optimizer_step_and_stores_initial_lr_as_torch_does() -> None:
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1)
    step_before = opt.step
    sched = ScheduleLR(opt, S.cosine(10))
    assert isinstance(sched, tls.LRScheduler)
    assert opt.param_groups[0]["initial_lr"] == 0.1  # what a scheduler chained next reads
    assert opt.step == step_before
    assert sched.last_epoch == 0 and sched.get_last_lr() == [0.1]
    # the rate is never read back: overwriting it by hand is undone by the next step
    opt.param_groups[0]["lr"] = 123.0
    sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * S.cosine(10)(1))


def test_per_group_schedules_keep_their_own_base_rates() -> None:
    a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([{"params": [a], "lr": 0.1}, {"params": [b], "lr": 0.01}], lr=1.0)
    sched = ScheduleLR(opt, [S.cosine(10), "linear(0.5, 1.0, 4)"])
    for t in range(12):
        assert sched.get_last_lr() == pytest.approx([0.1 * S.cosine(10)(t),
                                                     0.01 * S.linear(0.5, 1.0, 4)(t)])
        assert sched.get_lr() == sched.get_last_lr()
        sched.step()
    assert sched.state_dict()["schedule"] == ["cosine(10)", "linear(0.5, 1, 4)"]
    with pytest.raises(ValueError, match="one entry per parameter group"):
        ScheduleLR(opt, [S.cosine(10)])


def test_one_schedule_keeps_group_ratios() -> None:
    _, opt = _model_and_optimizer(0.05)
    sched = ScheduleLR(opt, S.warmup(5, S.cosine(50)))
    for _ in range(30):
        sched.step()
        lrs = sched.get_last_lr()
        assert lrs[1] / lrs[0] == pytest.approx(0.1)


def test_scale_lowers_the_rest_of_the_run_and_is_saved() -> None:
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.2)
    s = S.warmup(10, S.cosine(100))
    sched = ScheduleLR(opt, s)
    for _ in range(20):
        sched.step()
    sched.scale = 0.25
    assert opt.param_groups[0]["lr"] == pytest.approx(0.2 * 0.25 * s(20))  # applied at once
    sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.2 * 0.25 * s(21))
    assert sched.state_dict()["scale"] == 0.25
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="`scale` must be"):
            sched.scale = bad
    with pytest.raises(ValueError, match="`scale` must be > 0"):
        ScheduleLR(opt, s, scale=0)


def test_plateau_multiplies_warmup_and_cosine() -> None:
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    s = S.warmup(10, S.cosine(200, final=0.1))
    sched = ScheduleLR(opt, s, plateau=ReduceOnPlateau(factor=0.5, patience=2))
    metrics = [5.0, 4.0, 3.0, 3.0, 3.0, 3.0, 2.0, 2.5, 2.5, 2.5]
    expected_scale = [1, 1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25]
    for t, (metric, scale) in enumerate(zip(metrics, expected_scale, strict=True)):
        sched.step()
        assert sched.report(metric) == scale
        assert opt.param_groups[0]["lr"] == pytest.approx(scale * s(t + 1))


def test_bad_use_gives_clear_errors() -> None:
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1)
    sched = ScheduleLR(opt, "cosine(10)")
    with pytest.raises(TypeError, match="`epoch` must be None"):
        sched.step(5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`plateau` must be set"):
        sched.report(1.0)
    with pytest.raises(ValueError, match="same schedule"):
        sched.load_state_dict({**sched.state_dict(), "schedule": "cosine(11)"})
    with pytest.raises(ValueError, match="`state_dict` must come from"):
        sched.load_state_dict({"last_epoch": 3})
    with pytest.raises(ValueError, match="`step` must be an integer >= 0"):
        sched.load_state_dict({**sched.state_dict(), "step": -1})
    with pytest.raises(ValueError, match="`text` must spell a valid schedule"):
        ScheduleLR(opt, "cosine(-1)")
    with pytest.raises(TypeError, match="`schedule` must be"):
        ScheduleLR(opt, 3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="`optimizer` must be a torch.optim.Optimizer"):
        ScheduleLR(object(), "cosine(10)")  # type: ignore[arg-type]
    for bad in (float("nan"), -0.1, float("inf")):
        with pytest.raises(ValueError, match="`lr` of every parameter group must be finite"):
            ScheduleLR(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1),
                       "cosine(10)").load_state_dict({"step": 1, "base_lrs": [bad]})
    nan_opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    nan_opt.param_groups[0]["lr"] = float("nan")
    with pytest.raises(ValueError, match="but got lr=nan in group 0"):
        ScheduleLR(nan_opt, "cosine(10)")
    opt.add_param_group({"params": [torch.nn.Parameter(torch.zeros(1))]})
    with pytest.raises(ValueError, match="`optimizer` must keep its 1 parameter groups"):
        sched.step()
    with pytest.raises(TypeError, match="`plateau` must be"):
        ScheduleLR(opt, "cosine(10)", plateau=tls.ReduceLROnPlateau(opt))  # type: ignore[arg-type]


def test_plain_callable_schedule_and_continuing_with_a_new_schedule() -> None:
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1)
    sched = ScheduleLR(opt, lambda t: 0.5 ** t)
    sched.step()
    assert sched.get_last_lr() == [0.05] and sched.state_dict()["schedule"] is None
    # extending a run on purpose: overwrite the saved schedule text
    old = ScheduleLR(torch.optim.SGD([p], lr=0.1), S.cosine(100))
    for _ in range(60):
        old.step()
    new = ScheduleLR(torch.optim.SGD([p], lr=0.1), S.cosine(200))
    new.load_state_dict({**old.state_dict(), "schedule": str(S.cosine(200))})
    assert new.last_epoch == 60 and new.get_last_lr() == [0.1 * S.cosine(200)(60)]


@pytest.mark.slow  # importing Lightning takes ~10 s on a shared 2-core machine
def test_lightning_accepts_it_as_a_step_scheduler(tmp_path) -> None:
    lightning = pytest.importorskip("lightning")

    class Tiny(lightning.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(2, 1)
            self.seen: list[float] = []

        def training_step(self, batch, batch_idx):  # noqa: ANN001, ANN201
            self.seen.append(float(self.trainer.optimizers[0].param_groups[0]["lr"]))
            return self.layer(batch[0]).pow(2).mean()

        def configure_optimizers(self):  # noqa: ANN201
            opt = torch.optim.SGD(self.parameters(), lr=0.1)
            sched = ScheduleLR(opt, S.warmup(2, S.cosine(4)))
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(6, 2)),
                                       batch_size=1)
    model = Tiny()
    trainer = lightning.Trainer(max_steps=6, accelerator="cpu", logger=False,
                                enable_checkpointing=False, enable_progress_bar=False,
                                enable_model_summary=False, default_root_dir=tmp_path)
    trainer.fit(model, data)
    expected = [0.1 * S.warmup(2, S.cosine(4))(t) for t in range(6)]
    assert model.seen == pytest.approx(expected)


def test_a_plain_callable_that_returns_a_bad_multiplier_is_refused() -> None:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    for bad, error in ((-1.0, ValueError), (float("nan"), ValueError), ("0.5", TypeError)):
        with pytest.raises(error, match="`schedule` must return"):
            ScheduleLR(opt, lambda t, bad=bad: bad)
    assert opt.param_groups[0]["lr"] == 0.1


def test_a_plain_callable_may_return_numpy_or_torch_scalars() -> None:
    import numpy as np

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    ScheduleLR(opt, lambda t: np.where(t < 10, (t + 1) / 10, 1.0))
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01)
    fresh = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    ScheduleLR(fresh, lambda t: torch.tensor(0.5))
    assert float(fresh.param_groups[0]["lr"]) == pytest.approx(0.05)


def test_a_numpy_multiplier_leaves_python_float_rates_that_load_with_weights_only() -> None:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = ScheduleLR(opt, lambda t: np.float64(0.5) ** t)
    opt.step()
    sched.step()
    assert type(opt.param_groups[0]["lr"]) is float and sched.get_last_lr() == [0.05]
    buffer = io.BytesIO()
    torch.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, buffer)
    buffer.seek(0)
    torch.load(buffer, weights_only=True)


def test_after_a_torch_warmup_in_sequential_lr_it_starts_from_the_base_rate_like_torch() -> None:
    def sequential(then: Callable[[torch.optim.Optimizer], object]) -> Callable:
        return lambda opt: tls.SequentialLR(
            opt, [tls.LinearLR(opt, 0.1, 1.0, 5), then(opt)], milestones=[5])

    torch_rates, torch_params = _drive(sequential(lambda o: tls.CosineAnnealingLR(o, 20)), 25)
    rates, final = _drive(sequential(lambda o: ScheduleLR(o, S.cosine(20))), 25)
    np.testing.assert_allclose(rates, torch_rates, rtol=1e-6, atol=1e-12)
    torch.testing.assert_close(final, torch_params)


def test_as_the_first_stage_of_sequential_lr_a_torch_scheduler_after_it_keeps_the_base_rate() -> None:
    """Audit case: ScheduleLR stored no initial_lr, so a cosine chained after its warmup took
    the warmup's first rate (1/6 of the base) as its own base and ran 6x too low."""
    def sequential(first: Callable[[torch.optim.Optimizer], object]) -> Callable:
        return lambda opt: tls.SequentialLR(
            opt, [first(opt), tls.CosineAnnealingLR(opt, 20)], milestones=[5])

    torch_rates, torch_params = _drive(sequential(lambda o: tls.LinearLR(o, 1 / 6, 1.0, 5)), 25)
    rates, final = _drive(sequential(lambda o: ScheduleLR(o, S.linear(1 / 6, 1.0, 5))), 25)
    np.testing.assert_allclose(rates, torch_rates, rtol=1e-6, atol=1e-12)
    torch.testing.assert_close(final, torch_params)


# --- ScheduleLR: the saved base rates are what a resumed run uses -------------------

def test_load_state_dict_restores_the_saved_base_rates():
    p = torch.nn.Parameter(torch.zeros(1))
    sched = ScheduleLR(torch.optim.SGD([p], lr=0.1), S.cosine(100))
    for _ in range(30):
        sched.step()
    resumed = ScheduleLR(torch.optim.SGD([p], lr=0.5), S.cosine(100))  # built at another lr
    resumed.load_state_dict(sched.state_dict())
    assert resumed.base_lrs == [0.1]
    assert resumed.get_last_lr() == sched.get_last_lr()
