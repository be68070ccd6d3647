"""The Lightning callback inside a real ``Trainer.fit`` (tiny model, CPU, a few steps)."""

from __future__ import annotations

import math

import pytest
import torch

lightning = pytest.importorskip("lightning")

from lrkit.errors import DivergenceError  # noqa: E402
from lrkit.integrations.lightning import LrkitGuard  # noqa: E402

torch.manual_seed(0)
X = torch.randn(256, 4)
Y = X @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])


class Tiny(lightning.pytorch.LightningModule):
    def __init__(self, faults=None, scheduler=False):
        super().__init__()
        self.net = torch.nn.Linear(4, 1)
        self.faults = faults or {}
        self.scheduler = scheduler

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        return loss * self.faults.get(self.global_step, 1.0)

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.parameters(), lr=0.05)
        if not self.scheduler:
            return optimizer
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: 1.0 / (1 + 0.01 * t))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def fit(module, callback, steps=60, **trainer_kwargs):
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, Y), batch_size=16,
                                         shuffle=False)
    trainer = lightning.pytorch.Trainer(
        accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, max_steps=steps, callbacks=[callback], **trainer_kwargs,
    )
    trainer.fit(module, loader)
    return trainer


def held_out(module):
    with torch.no_grad():
        return float(torch.nn.functional.mse_loss(module.net(X), Y))


def test_a_clean_run_has_no_events_and_learns():
    module = Tiny()
    callback = LrkitGuard(snapshot_every=10)
    fit(module, callback)
    assert callback.events == []
    assert held_out(module) < 0.1


def test_a_nan_batch_is_skipped_and_a_blow_up_rolled_back_inside_fit():
    module = Tiny(faults={20: math.nan, 40: 1e6}, scheduler=True)
    callback = LrkitGuard(snapshot_every=10, forgive_after=0)
    fit(module, callback)
    kinds = [(e["event"], e["cause"]) for e in callback.events]
    assert ("skip", "non_finite_loss") in kinds
    assert ("rollback", "blow_up") in kinds
    assert callback.guard.scale == 0.5
    scheduler = callback.guard.scheduler
    assert scheduler.base_lrs == [pytest.approx(0.025)]
    assert math.isfinite(held_out(module)) and held_out(module) < 0.1


def test_gradient_accumulation_observes_once_per_optimizer_step():
    module = Tiny()
    callback = LrkitGuard(snapshot_every=5)
    fit(module, callback, steps=12, accumulate_grad_batches=2)
    assert callback.guard.steps == 12


def test_persistent_divergence_ends_fit_with_divergence_error():
    module = Tiny(faults={k: math.nan for k in range(15, 200)})
    callback = LrkitGuard(snapshot_every=5, max_retries=2)
    with pytest.raises(DivergenceError):
        fit(module, callback, steps=100)
    assert callback.events[-1]["event"] == "give_up"


def test_arguments_owned_by_the_trainer_are_refused():
    with pytest.raises(ValueError, match="clip_grad_norm"):
        LrkitGuard(clip_grad_norm=1.0)


def test_callback_state_resumes_the_monitor_window():
    import io

    module = Tiny()
    callback = LrkitGuard(snapshot_every=10)
    fit(module, callback, steps=30)
    buffer = io.BytesIO()
    torch.save(callback.state_dict(), buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)  # plain values: a safe load works
    resumed = LrkitGuard(snapshot_every=10)
    resumed.load_state_dict(saved)
    fit(module, resumed, steps=5)  # the same (trained) module, as a checkpoint restores it
    assert resumed.guard.monitor.step == 35 and resumed.events == []
    assert resumed.guard.steps == 35


class Recording(Tiny):
    def __init__(self, inf_grad_steps=()):
        super().__init__()
        self.inf_grad_steps = set(inf_grad_steps)
        self.losses = []

    def training_step(self, batch, batch_idx):
        loss = super().training_step(batch, batch_idx)
        self.losses.append(float(loss.detach()))
        return loss

    def on_after_backward(self):
        if self.global_step in self.inf_grad_steps:
            self.net.weight.grad.fill_(math.inf)


def test_gradient_accumulation_feeds_the_monitor_the_mean_loss_of_the_micro_batches():
    module = Recording()
    callback = LrkitGuard(snapshot_every=5)
    fit(module, callback, steps=3, accumulate_grad_batches=4)
    means = [sum(module.losses[i:i + 4]) / 4 for i in range(0, 12, 4)]
    assert callback.guard.monitor.state_dict()["losses"] == pytest.approx(means)


def test_amp_overflow_is_left_to_the_grad_scaler():
    from lightning.pytorch.plugins.precision import MixedPrecision

    module = Recording(inf_grad_steps=(20, 21, 22))
    callback = LrkitGuard(snapshot_every=5)
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    fit(module, callback, steps=40, plugins=[MixedPrecision("16-mixed", "cpu", scaler=scaler)])
    assert callback.events == [] and scaler.get_scale() == 128.0


@pytest.mark.parametrize("kwargs, error, message", [
    ({"snapshot_every": 0}, ValueError, "`snapshot_every` must be a positive integer"),
    ({"bogus": 1}, TypeError, "LrkitGuard takes Guard's keyword arguments .* but got bogus"),
    ({"distributed": True}, ValueError, "`distributed` must be left to the Lightning Trainer"),
    ({"event_log": 123}, TypeError, "`event_log` must be a path or None"),
])
def test_bad_arguments_are_named_when_the_callback_is_built(kwargs, error, message):
    # audit case: they surfaced only when fit started, some without the argument's name
    with pytest.raises(error, match=message):
        LrkitGuard(**kwargs)
