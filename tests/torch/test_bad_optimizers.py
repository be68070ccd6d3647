"""Optimizers and factories that cannot be driven get a ValueError/TypeError naming what is
wrong, from every entry point, before any training (audit cases: a NaN rate read as 'the
loss blew up after 1 steps', zero groups as an IndexError, a factory ignoring ``lr``
reported a rate 100x the one it trained at)."""

from __future__ import annotations

import pytest
import torch

from lrkit.torch import Guard, ScheduleLR, autotrain, find_lr

DATA = [(torch.randn(8, 2), torch.randn(8, 1)) for _ in range(4)]


def loss_fn(model, batch):
    return torch.nn.functional.mse_loss(model(batch[0]), batch[1])


def entry_points(model, optimizer):
    return {
        "find_lr": lambda: find_lr(model, optimizer, loss_fn, DATA, num=10),
        "Guard": lambda: Guard(model, optimizer),
        "ScheduleLR": lambda: ScheduleLR(optimizer, "cosine(10)"),
        "autotrain": lambda: autotrain(model, lambda params, lr: optimizer, loss_fn, DATA, 60),
    }


@pytest.mark.parametrize("entry", ["find_lr", "Guard", "ScheduleLR", "autotrain"])
@pytest.mark.parametrize("lr", [float("nan"), float("inf")])
def test_a_non_finite_rate_is_named_with_its_group(entry, lr):
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.SGD([{"params": [model.weight]}, {"params": [model.bias], "lr": lr}],
                                lr=0.1)
    with pytest.raises(ValueError, match=rf"`lr` of every parameter group .* lr={lr} in group 1"):
        entry_points(model, optimizer)[entry]()


@pytest.mark.parametrize("entry", ["find_lr", "Guard", "ScheduleLR", "autotrain"])
def test_an_optimizer_without_groups_is_named(entry):
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    optimizer.param_groups.clear()
    with pytest.raises(ValueError, match="`optimizer` must have at least one parameter group"):
        entry_points(model, optimizer)[entry]()


@pytest.mark.parametrize("factory", [
    lambda params, lr: torch.optim.SGD(params, lr=0.01),  # ignores lr
    lambda params, lr: torch.optim.SGD(params, lr=0 * lr),  # scales it to nothing
])
def test_autotrain_refuses_a_factory_whose_rate_does_not_follow_lr(factory):
    model = torch.nn.Linear(2, 1)
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(ValueError, match=r"`make_optimizer\(params, lr\)` must set every group's rate"):
        autotrain(model, factory, loss_fn, DATA, 60)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_autotrain_names_data_and_settings():
    model = torch.nn.Linear(2, 1)
    sgd = lambda params, lr: torch.optim.SGD(params, lr=lr)  # noqa: E731
    with pytest.raises(TypeError, match="`data` must be an iterable of batches, but got data=None"):
        autotrain(model, sgd, loss_fn, None, 60)
    with pytest.raises(TypeError, match="`settings` must be an lrkit.auto.Settings or None"):
        autotrain(model, sgd, loss_fn, DATA, 60, settings="x")


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
def test_autotrain_puts_modes_back_when_the_search_is_interrupted(error):
    model = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Dropout(0.1), torch.nn.Linear(8, 1))
    model.eval()
    model[1].train()  # a mixed set of modes, which model.train()/eval() would not restore
    calls = []

    def failing(m, batch):
        calls.append(1)
        if len(calls) == 5:
            raise error
        return loss_fn(m, batch)

    with pytest.raises(type(error)):
        autotrain(model, lambda params, lr: torch.optim.SGD(params, lr=lr), failing, DATA, 60)
    assert [m.training for m in model.modules()] == [False, False, True, False]



def test_autotrain_holds_back_no_more_batches_than_data_has():
    # audit case: val_batches=100 on 4 batches evaluated the same 4 batches 25 times over,
    # at 100 loss calls per evaluation
    model = torch.nn.Linear(2, 1)
    result = autotrain(model, lambda params, lr: torch.optim.SGD(params, lr=lr), loss_fn, DATA,
                       200, val_batches=100, seed=0)
    assert result.steps_spent <= 300
    # 4 calls per evaluation leave room for a race; 100 would have left none
    assert len(result.candidates) >= 2 and result.by_phase.get("race", 0) > 0


def test_autotrain_takes_a_streaming_loader_and_a_frozen_first_group():
    """Review cases: a DataLoader over an IterableDataset defines __len__ and raises from it;
    a first group frozen at lr=0 (a backbone) with a head that follows lr trained before."""
    from torch.utils.data import DataLoader, IterableDataset

    class Stream(IterableDataset):
        def __iter__(self):
            generator = torch.Generator().manual_seed(0)
            while True:
                x = torch.randn(8, 2, generator=generator)
                yield x, x.sum(1, keepdim=True)

    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    frozen = model[0].weight.detach().clone()

    def make_optimizer(params, lr):
        return torch.optim.SGD([{"params": model[0].parameters(), "lr": 0.0},
                                {"params": model[1].parameters(), "lr": lr}])

    result = autotrain(model, make_optimizer, loss_fn, DataLoader(Stream(), batch_size=None),
                       60, seed=0)
    assert result.steps_spent <= 90
    assert torch.equal(model[0].weight, frozen)


def test_autotrain_refuses_a_factory_that_fixes_a_tiny_rate():
    # review case: numpy's default atol let rates at or below 1e-8 pass as proportional
    with pytest.raises(ValueError, match="must set every group's rate in proportion"):
        autotrain(torch.nn.Linear(2, 1), lambda params, lr: torch.optim.SGD(params, lr=1e-9),
                  loss_fn, DATA, 60)
