import copy
import math
import random

import numpy as np
import pytest
import torch

import lrkit.torch
from lrkit.torch import find_lr


class Net(torch.nn.Module):
    """BatchNorm (running statistics are buffers) and dropout (consumes RNG)."""

    def __init__(self):
        super().__init__()
        self.body = torch.nn.Sequential(
            torch.nn.Linear(6, 16), torch.nn.BatchNorm1d(16), torch.nn.ReLU(),
            torch.nn.Dropout(0.2), torch.nn.Linear(16, 1),
        )

    def forward(self, x):
        return self.body(x)


def make_data(n_batches=4, batch=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(6, 1, generator=g)
    batches = []
    for _ in range(n_batches):
        x = torch.randn(batch, 6, generator=g)
        batches.append((x, x @ w + 0.1 * torch.randn(batch, 1, generator=g)))
    return batches


def mse(model, batch):
    x, y = batch
    return torch.nn.functional.mse_loss(model(x), y)


def setup(optimizer_cls=torch.optim.Adam, lr=1e-3):
    torch.manual_seed(0)
    model = Net()
    optimizer = optimizer_cls(model.parameters(), lr=lr)
    data = make_data()
    # a few real steps first: non-empty optimizer state, moved BN statistics, live grads
    for batch in data[:2]:
        optimizer.zero_grad()
        mse(model, batch).backward()
        optimizer.step()
    mse(model, data[2]).backward()
    model.eval().body[3].train()  # a mixed train/eval state must come back too
    return model, optimizer, data


def state_of(model, optimizer):
    return {
        "model": {k: v.clone() for k, v in model.state_dict().items()},
        "optimizer": copy.deepcopy(optimizer.state_dict()),
        "grads": [None if p.grad is None else p.grad.clone() for p in model.parameters()],
        "modes": [m.training for m in model.modules()],
        "python": random.getstate(),
        "numpy": np.random.get_state()[1].copy(),
        "torch": torch.get_rng_state().clone(),
    }


def assert_same(before, after):
    for key, value in before["model"].items():
        assert torch.equal(value, after["model"][key]), key
    a, b = before["optimizer"], after["optimizer"]
    assert a["param_groups"] == b["param_groups"]
    assert a["state"].keys() == b["state"].keys()
    for index, entries in a["state"].items():
        for name, value in entries.items():
            other = b["state"][index][name]
            assert torch.equal(value, other) if torch.is_tensor(value) else value == other
    for g1, g2 in zip(before["grads"], after["grads"], strict=True):
        assert (g1 is None and g2 is None) or torch.equal(g1, g2)
    assert before["modes"] == after["modes"]
    assert before["python"] == after["python"]
    assert np.array_equal(before["numpy"], after["numpy"])
    assert torch.equal(before["torch"], after["torch"])


def test_state_is_restored_bit_for_bit():
    model, optimizer, data = setup()
    before = state_of(model, optimizer)
    result = find_lr(model, optimizer, mse, data, start=1e-5, end=10.0, num=40)
    assert result.steps > 10
    assert_same(before, state_of(model, optimizer))


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_state_is_restored_when_loss_fn_raises_halfway(exc):
    model, optimizer, data = setup()
    before = state_of(model, optimizer)
    calls = []

    def failing(model, batch):
        calls.append(1)
        if len(calls) == 15:
            raise exc("boom")
        return mse(model, batch)

    with pytest.raises(exc):
        find_lr(model, optimizer, failing, data, start=1e-5, end=10.0, num=40)
    assert len(calls) == 15
    assert_same(before, state_of(model, optimizer))


def test_snapshot_to_a_directory(tmp_path):
    model, optimizer, data = setup()
    before = state_of(model, optimizer)
    find_lr(model, optimizer, mse, data, num=30, snapshot_dir=tmp_path)
    assert_same(before, state_of(model, optimizer))
    assert list(tmp_path.iterdir()) == []  # the snapshot file is removed afterwards


def test_a_directory_snapshot_never_builds_a_copy_in_memory(tmp_path, monkeypatch):
    # the file is written from the live state (torch.save streams it out): a second full
    # copy in host memory is what a directory snapshot is for avoiding
    import lrkit.torch.state as state

    def no_copy(obj):
        raise AssertionError("a directory snapshot made an in-memory copy")

    monkeypatch.setattr(state, "to_cpu", no_copy)
    model, optimizer, data = setup()
    before = state_of(model, optimizer)
    find_lr(model, optimizer, mse, data, num=30, snapshot_dir=tmp_path)
    assert_same(before, state_of(model, optimizer))


def test_nan_on_step_3():
    model, optimizer, data = setup()
    calls = []

    def nan_on_third(model, batch):
        calls.append(1)
        loss = mse(model, batch)
        return loss * math.nan if len(calls) == 3 else loss

    result = find_lr(model, optimizer, nan_on_third, data, num=50)
    assert result.steps == 3 and len(calls) == 3
    assert result.stop_reason == "nonfinite" and result.suggestion is None


def test_negative_loss_gives_the_same_edge():
    # the same training shifted by -100: every loss negative, the same decisions
    runs = []
    for shift in (0.0, -100.0):
        model, optimizer, data = setup(torch.optim.SGD, lr=0.1)
        runs.append(find_lr(model, optimizer, lambda m, b, s=shift: mse(m, b) + s, data,
                            start=1e-4, end=100.0, num=50))
    plain, shifted = runs
    assert (shifted.losses[: shifted.divergence_index] < 0).all()
    assert plain.stop_reason == shifted.stop_reason == "diverged"
    assert shifted.divergence_lr == pytest.approx(plain.divergence_lr, rel=1e-6)
    assert shifted.steps == plain.steps


def test_loader_shorter_than_num_is_cycled_not_divergence():
    model, optimizer, data = setup(torch.optim.SGD, lr=0.1)
    served = []

    def counting(model, batch):
        served.append(id(batch[0]))
        return mse(model, batch)

    result = find_lr(model, optimizer, counting, data[:3], start=1e-6, end=1e-2, num=60)
    assert result.stop_reason == "end" and result.divergence_lr is None
    assert result.steps == 60 and len(served) == 60 and len(set(served)) == 3


def test_one_pass_iterator_that_runs_out_is_a_clear_error():
    model, optimizer, data = setup()
    with pytest.raises(ValueError, match="`data` must be re-iterable"):
        find_lr(model, optimizer, mse, iter(data), start=1e-6, end=1e-3, num=20)
    with pytest.raises(ValueError, match="at least one batch"):
        find_lr(model, optimizer, mse, [], num=20)


@pytest.mark.parametrize("bad", [lambda m, b: torch.ones(3, requires_grad=True), lambda m, b: 0.5])
def test_wrong_shaped_loss_is_a_type_error(bad):
    model, optimizer, data = setup()
    before = state_of(model, optimizer)
    with pytest.raises(TypeError, match="`loss_fn` must return"):
        find_lr(model, optimizer, bad, data, num=20)
    assert_same(before, state_of(model, optimizer))


def test_argument_checks():
    model, optimizer, data = setup()
    with pytest.raises(TypeError, match="`model` must be"):
        find_lr("model", optimizer, mse, data)
    with pytest.raises(TypeError, match="`optimizer` must be"):
        find_lr(model, "adam", mse, data)
    with pytest.raises(TypeError, match="`data` must be an iterable"):
        find_lr(model, optimizer, mse, 3)
    with pytest.raises(ValueError, match="`accumulation_steps` must be a positive integer"):
        find_lr(model, optimizer, mse, data, accumulation_steps=0)
    with pytest.raises(ValueError, match="`end` must be > start"):
        find_lr(model, optimizer, mse, data, start=1.0, end=0.5)


def test_gradient_accumulation_advances_per_optimizer_step():
    model, optimizer, data = setup()
    calls, steps = [], []
    optimizer.register_step_post_hook(lambda opt, args, kwargs: steps.append(opt.param_groups[0]["lr"]))

    def counting(model, batch):
        calls.append(1)
        return mse(model, batch)

    result = find_lr(model, optimizer, counting, data, num=20, start=1e-6, end=1e-3,
                     accumulation_steps=3)
    assert result.steps == 20 and len(steps) == 20 and len(calls) == 60
    np.testing.assert_allclose(steps, result.lrs)


def test_parameter_groups_keep_their_ratio():
    model, _, data = setup()
    head = list(model.body[4].parameters())
    rest = [p for p in model.parameters() if all(p is not h for h in head)]
    optimizer = torch.optim.SGD([{"params": rest, "lr": 0.01}, {"params": head, "lr": 0.1}])
    seen = []
    optimizer.register_step_pre_hook(
        lambda opt, args, kwargs: seen.append([g["lr"] for g in opt.param_groups]))
    result = find_lr(model, optimizer, mse, data, num=30, start=1e-6, end=1e-2)
    ratios = np.array([b / a for a, b in seen])
    np.testing.assert_allclose(ratios, 10.0)
    np.testing.assert_allclose([a for a, _ in seen], result.lrs)
    assert [g["lr"] for g in optimizer.param_groups] == [0.01, 0.1]


def test_gradient_clipping_is_applied_before_each_step():
    model, optimizer, data = setup(torch.optim.SGD, lr=0.1)
    norms = []

    def record(opt, args, kwargs):
        grads = [p.grad for g in opt.param_groups for p in g["params"] if p.grad is not None]
        norms.append(float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))))

    optimizer.register_step_pre_hook(record)
    find_lr(model, optimizer, lambda m, b: 100.0 * mse(m, b), data, num=20, max_grad_norm=0.5)
    assert max(norms) <= 0.5 + 1e-5


def test_grad_scaler_skipped_steps_do_not_advance_the_sweep():
    model, optimizer, data = setup(torch.optim.SGD, lr=0.1)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
    calls = []
    weight = model.body[0].weight

    def poisoned(model, batch):
        calls.append(1)
        loss = mse(model, batch)
        if len(calls) in (4, 5, 9):  # inf gradients, finite loss: the scaler skips the step
            loss = loss + _InfGrad.apply(weight).sum()
        return loss

    before_scale = scaler.get_scale()
    result = find_lr(model, optimizer, poisoned, data, num=20, start=1e-6, end=1e-3, scaler=scaler)
    assert result.steps == 20 and len(calls) == 23
    assert scaler.get_scale() == before_scale  # the scaler is restored too


def test_a_scaler_that_skips_every_step_ends_the_sweep_as_nonfinite():
    from lrkit.torch.finder import MAX_SKIPPED_STEPS

    model, optimizer, data = setup(torch.optim.SGD, lr=0.1)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
    weight = model.body[0].weight
    before = copy.deepcopy(model.state_dict())
    calls = []

    def overflowing(model, batch):  # inf gradients at every step: it overflowed for good
        calls.append(1)
        return mse(model, batch) + _InfGrad.apply(weight).sum()

    result = find_lr(model, optimizer, overflowing, data, num=20, scaler=scaler)
    assert len(calls) == MAX_SKIPPED_STEPS and result.steps == 1
    assert result.stop_reason == "nonfinite" and math.isnan(result.losses[-1])
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


class _InfGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return torch.zeros_like(x)

    @staticmethod
    def backward(ctx, grad):
        return torch.full_like(grad, math.inf)


def test_validation_mode_records_the_held_out_loss():
    model, optimizer, data = setup()
    modes = []

    def spy(model, batch):
        modes.append(model.training)
        return mse(model, batch)

    val = make_data(n_batches=2, seed=1)
    result = find_lr(model, optimizer, spy, data, val_data=val, num=10, start=1e-6, end=1e-3)
    # per rate: one training call (train mode) then two validation calls (eval mode)
    assert modes == [True, False, False] * 10
    assert result.steps == 10


def test_matches_torch_lr_finder_step_for_step():
    # the same model, optimizer and data through torch-lr-finder's own loop: the raw
    # losses of the sweep agree (both record the batch loss before the update)
    torch_lr_finder = pytest.importorskip("torch_lr_finder")
    data = make_data(n_batches=8, seed=2)
    x = torch.cat([b[0] for b in data])
    y = torch.cat([b[1] for b in data])
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16)

    def linear():
        torch.manual_seed(1)
        return torch.nn.Linear(6, 1)

    model = linear()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4)
    finder = torch_lr_finder.LRFinder(model, optimizer, torch.nn.MSELoss())
    finder.range_test(loader, start_lr=1e-4, end_lr=1.0, num_iter=30, smooth_f=0.0, diverge_th=1e9)
    theirs = np.array(finder.history["loss"])
    finder.reset()

    model = linear()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4)
    ours = find_lr(model, optimizer, lambda m, b: torch.nn.functional.mse_loss(m(b[0]), b[1]),
                   loader, start=1e-4, end=1.0, num=30, stop_on_divergence=False)
    np.testing.assert_allclose(ours.lrs, finder.history["lr"], rtol=1e-12)
    np.testing.assert_allclose(ours.losses[: len(theirs)], theirs, rtol=1e-5)


def test_progress_bar_runs(capsys):
    model, optimizer, data = setup()
    result = find_lr(model, optimizer, mse, data, num=12, start=1e-6, end=1e-3, progress=True)
    assert result.steps == 12
    assert capsys.readouterr().out == ""  # the bar goes to stderr, never stdout


def test_lazy_name():
    assert lrkit.torch.find_lr is find_lr


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_model_restored_and_snapshot_on_cpu():
    torch.manual_seed(0)
    model = Net().cuda()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    data = make_data()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cuda_rng = torch.cuda.get_rng_state_all()
    result = find_lr(model, optimizer, mse, data, num=30)
    assert result.steps > 5
    for key, value in before.items():
        assert torch.equal(value, model.state_dict()[key])
        assert model.state_dict()[key].device.type == "cuda"
    assert all(torch.equal(a, b) for a, b in zip(cuda_rng, torch.cuda.get_rng_state_all(), strict=True))


def test_dict_batches_and_bfloat16_autocast():
    model, optimizer, data = setup(torch.optim.SGD, lr=0.1)
    before = state_of(model, optimizer)
    dict_data = [{"x": x, "y": y} for x, y in data]
    dtypes = []

    def loss_fn(model, batch):
        out = model(batch["x"])
        dtypes.append(out.dtype)
        return torch.nn.functional.mse_loss(out.float(), batch["y"])

    result = find_lr(model, optimizer, loss_fn, dict_data, num=15, start=1e-6, end=1e-3,
                     autocast_dtype=torch.bfloat16)
    assert result.steps == 15 and set(dtypes) == {torch.bfloat16}
    assert_same(before, state_of(model, optimizer))


def test_a_directory_snapshot_of_a_small_view_does_not_store_its_whole_base(tmp_path):
    from lrkit.torch.state import Snapshot

    model = torch.nn.Linear(4, 1)
    base = torch.randn(1_000_000)
    model.register_buffer("window", base[:10])  # a view of a 4 MB tensor
    snapshot = Snapshot.take(model, directory=tmp_path)
    assert snapshot.path.stat().st_size < 100_000
    before = model.window.clone()
    model.window.zero_()
    snapshot.restore(model)
    assert torch.equal(model.window, before)


def test_a_directory_snapshot_keeps_a_sparse_buffer(tmp_path):
    from lrkit.torch.state import Snapshot

    model = torch.nn.Linear(4, 1)
    model.register_buffer("mask", torch.eye(5).to_sparse())
    snapshot = Snapshot.take(model, directory=tmp_path)
    model.mask = torch.zeros(5, 5).to_sparse()
    snapshot.restore(model)
    assert torch.equal(model.mask.to_dense(), torch.eye(5))


def test_non_persistent_buffers_are_restored_too():
    # a buffer registered with persistent=False is not in the state_dict, but training
    # changes it; the finder must put it back like everything else
    class Counting(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(3, 1)
            self.register_buffer("calls", torch.zeros(()), persistent=False)

        def forward(self, x):
            self.calls += 1
            return self.linear(x)

    model = Counting()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    data = [(torch.randn(4, 3), torch.randn(4, 1)) for _ in range(5)]
    find_lr(model, optimizer, lambda m, b: torch.nn.functional.mse_loss(m(b[0]), b[1]), data,
            num=20, progress=False)
    assert float(model.calls) == 0.0


def test_a_one_pass_val_data_is_refused_up_front():
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    data = [(torch.randn(4, 3), torch.randn(4, 1)) for _ in range(5)]
    with pytest.raises(TypeError, match="`val_data` must be re-iterable"):
        find_lr(model, optimizer, lambda m, b: torch.nn.functional.mse_loss(m(b[0]), b[1]), data,
                num=10, val_data=(b for b in data), progress=False)


def test_an_optimizer_that_needs_a_closure_lbfgs():
    # LBFGS.step(closure) re-evaluates the loss: find_lr hands it a closure on the same batch
    model, _, data = setup()
    optimizer = torch.optim.LBFGS(model.parameters(), lr=1e-3, max_iter=2)
    before = state_of(model, optimizer)
    calls = []

    def counting(model, batch):
        calls.append(1)
        return mse(model, batch)

    result = find_lr(model, optimizer, counting, data, num=12, start=1e-4, end=1e-1)
    assert result.steps == 12 and len(calls) >= 12
    assert np.isfinite(result.losses).all()
    assert_same(before, state_of(model, optimizer))


def test_a_closure_optimizer_with_an_enabled_grad_scaler_is_refused_up_front():
    model, _, data = setup()
    optimizer = torch.optim.LBFGS(model.parameters(), lr=1e-3)
    with pytest.raises(ValueError, match="closure"):
        find_lr(model, optimizer, mse, data, num=12, scaler=torch.amp.GradScaler("cpu"))


def test_a_snapshot_directory_keeps_the_users_files(tmp_path):
    # the snapshot file must not take (and then delete) a name that is already there, such
    # as another run's snapshot in the same directory
    model, optimizer, data = setup()
    mine = tmp_path / "lrkit-find-snapshot.pt"
    mine.write_text("someone else's snapshot")
    find_lr(model, optimizer, mse, data, num=12, snapshot_dir=tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [mine.name]
    assert mine.read_text() == "someone else's snapshot"


def test_state_is_restored_when_the_data_cannot_even_be_iterated(tmp_path):
    class Broken:
        def __iter__(self):
            torch.rand(3)  # e.g. a sampler's seed drawn before opening the files fails
            raise RuntimeError("cannot open the dataset")

    model, optimizer, _ = setup()
    before = state_of(model, optimizer)
    with pytest.raises(RuntimeError, match="cannot open"):
        find_lr(model, optimizer, mse, Broken(), num=12, snapshot_dir=tmp_path)
    assert_same(before, state_of(model, optimizer))
    assert list(tmp_path.iterdir()) == []


def test_parameters_the_optimizer_holds_outside_the_model_are_restored():
    # e.g. a learnable temperature or a margin-loss head that lives in loss_fn
    model, optimizer, data = setup()
    temperature = torch.nn.Parameter(torch.tensor([1.5]))
    optimizer.add_param_group({"params": [temperature], "lr": 1e-3})
    (temperature * 2).sum().backward()
    value, grad = temperature.detach().clone(), temperature.grad.clone()
    before = state_of(model, optimizer)
    find_lr(model, optimizer, lambda m, b: mse(m, b) * temperature.sum(), data, num=20,
            start=1e-4, end=1.0)
    assert torch.equal(temperature.detach(), value)
    assert torch.equal(temperature.grad, grad)
    assert_same(before, state_of(model, optimizer))


class _MixedPrecisionSGD(torch.optim.Optimizer):
    """Momentum kept in float32 for bfloat16 parameters, and an int64 step counter."""

    def __init__(self, params, lr):
        super().__init__(params, {"lr": lr})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                if not state:
                    state["momentum"] = torch.zeros_like(p, dtype=torch.float32)
                    state["count"] = torch.zeros((), dtype=torch.int64)
                state["momentum"].mul_(0.9).add_(p.grad.float())
                state["count"] += 1
                p.add_(state["momentum"].to(p.dtype), alpha=-group["lr"])


@pytest.mark.parametrize("snapshot_dir", [False, True])
def test_optimizer_state_keeps_its_dtypes(tmp_path, snapshot_dir):
    # Optimizer.load_state_dict casts floating state to the parameter's dtype (an int64
    # counter of a bfloat16 parameter comes back as bfloat16): the restore must not
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1).to(torch.bfloat16)
    optimizer = _MixedPrecisionSGD(model.parameters(), lr=1e-3)
    data = [(x.bfloat16(), x.sum(1, keepdim=True).bfloat16()) for x in torch.randn(3, 8, 4)]

    def loss_fn(model, batch):
        return torch.nn.functional.mse_loss(model(batch[0]).float(), batch[1].float())

    loss_fn(model, data[0]).backward()
    optimizer.step()
    before = state_of(model, optimizer)
    live = optimizer.state[model.weight]["momentum"]
    find_lr(model, optimizer, loss_fn, data, num=12, start=1e-4, end=1e-2,
            snapshot_dir=tmp_path if snapshot_dir else None)
    after = state_of(model, optimizer)
    for index, entries in before["optimizer"]["state"].items():
        for name, value in entries.items():
            assert after["optimizer"]["state"][index][name].dtype == value.dtype, name
    assert_same(before, after)
    assert optimizer.state[model.weight]["momentum"] is live  # restored in place


# --- gradient accumulation = mean of micro-batch gradients and losses -----

def _regression_batches():
    g = torch.Generator().manual_seed(0)
    return [(torch.randn(8, 3, generator=g), torch.randn(8, 1, generator=g)) for _ in range(6)]


def _mse(m, b):
    return torch.nn.functional.mse_loss(m(b[0]), b[1])


def test_accumulation_steps_on_the_mean_gradient_and_records_the_mean_loss():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    data = _regression_batches()
    seen = []
    opt.register_step_pre_hook(lambda o, a, k: seen.append([p.grad.clone() for p in model.parameters()]))
    result = find_lr(model, opt, _mse, data, start=1e-4, end=1e-3, num=3, accumulation_steps=2)
    # reference: first optimizer step at the initial weights on batches 0 and 1
    ref = copy.deepcopy(model)
    losses = [_mse(ref, data[i]) for i in (0, 1)]
    torch.autograd.backward(sum(losses) / 2)
    for got, p in zip(seen[0], ref.parameters(), strict=True):
        torch.testing.assert_close(got, p.grad, rtol=1e-6, atol=1e-7)
    assert result.losses[0] == pytest.approx(float(sum(losses) / 2), rel=1e-6)


# --- find_lr puts numpy's and python's generators back, position included -------

def test_numpy_and_python_generators_are_restored_by_find_lr():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    data = _regression_batches()
    np.random.seed(1)
    random.seed(1)
    np_before, py_before = np.random.get_state(), random.getstate()

    def augmenting(m, b):  # a loss_fn that augments with numpy / python randomness
        noise = float(np.random.normal()) * 1e-3 + random.random() * 1e-3
        return _mse(m, b) + noise

    find_lr(model, opt, augmenting, data, start=1e-4, end=1e-2, num=10)
    np_after = np.random.get_state()
    assert np_after[2] == np_before[2] and np.array_equal(np_after[1], np_before[1])
    assert random.getstate() == py_before


# --- with val_data the recorded loss is the held-out mean after the update ------

def test_val_data_loss_is_the_mean_held_out_loss_after_the_update():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Dropout(0.5), torch.nn.Linear(4, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    data, val = _regression_batches(), _regression_batches()[:2]
    expected = []

    def after_step(o, args, kwargs):
        model.eval()
        with torch.no_grad():
            expected.append(sum(float(_mse(model, b)) for b in val) / len(val))
        model.train()

    opt.register_step_post_hook(after_step)
    result = find_lr(model, opt, _mse, data, val_data=val, start=1e-4, end=1e-1, num=8)
    np.testing.assert_allclose(result.losses, expected, rtol=1e-6)
