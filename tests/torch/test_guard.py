"""Guard mechanics on tiny models: skip, rollback (bit-exact), backoff through every kind of
scheduler, bounded retries, event log, file snapshots, AMP GradScaler, clipping,
gradient accumulation, and agreement under torch.distributed (gloo, 2 processes)."""

from __future__ import annotations

import json
import math
import os
import socket

import pytest
import torch

from lrkit.errors import DivergenceError
from lrkit.torch.guard import Guard

X = torch.linspace(-1, 1, 32).reshape(8, 4)
Y = X.sum(dim=1, keepdim=True)


def make(seed=0, lr=0.05, momentum=0.9):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    return model, optimizer


def loss_of(model, scale=1.0):
    return torch.nn.functional.mse_loss(model(X), Y) * scale


def backward_step(guard, model, optimizer, scale=1.0, nan_grad=False):
    optimizer.zero_grad(set_to_none=True)
    loss = loss_of(model, scale)
    loss.backward()
    if nan_grad:
        next(model.parameters()).grad.view(-1)[0] = math.nan
    return guard.step(loss)


def params(model):
    return [p.detach().clone() for p in model.parameters()]


def same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_bad_arguments_name_the_argument():
    model, optimizer = make()
    with pytest.raises(TypeError, match="optimizer"):
        Guard(model, "sgd")
    with pytest.raises(ValueError, match="`snapshot_every` must be a positive integer"):
        Guard(model, optimizer, snapshot_every=0)
    with pytest.raises(ValueError, match="`backoff` must be in"):
        Guard(model, optimizer, backoff=1.0)
    guard = Guard(model, optimizer)
    with pytest.raises(TypeError, match="`loss` must be a scalar"):
        guard.step(torch.ones(3))


def test_without_faults_the_guard_steps_exactly_like_a_plain_loop():
    model, optimizer = make()
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 7, 0.5)
    guard = Guard(model, optimizer, scheduler, snapshot_every=5)
    ref_model, ref_opt = make()
    ref_sched = torch.optim.lr_scheduler.StepLR(ref_opt, 7, 0.5)
    for _ in range(30):
        backward_step(guard, model, optimizer)
        ref_opt.zero_grad()
        loss_of(ref_model).backward()
        ref_opt.step()
        ref_sched.step()
    assert same(params(model), params(ref_model))
    assert optimizer.param_groups[0]["lr"] == ref_opt.param_groups[0]["lr"]
    assert guard.events == [] and guard.steps == 30


def test_a_nan_gradient_is_skipped_and_leaves_weights_and_optimizer_untouched():
    model, optimizer = make()
    guard = Guard(model, optimizer, check_grads=True)
    for _ in range(5):
        backward_step(guard, model, optimizer)
    before = params(model)
    momentum = [s["momentum_buffer"].clone() for s in optimizer.state.values()]
    verdict = backward_step(guard, model, optimizer, nan_grad=True)
    assert verdict.status == "diverged" and verdict.cause == "non_finite_grad"
    assert same(params(model), before)
    assert same([s["momentum_buffer"] for s in optimizer.state.values()], momentum)
    assert [e["event"] for e in guard.events] == ["skip"]
    assert guard.events[0]["cause"] == "non_finite_grad" and guard.scale == 1.0


def _run_to_rollback(guard, model, optimizer, blowups=2):
    for _ in range(10):
        backward_step(guard, model, optimizer)
    snapshot_params = params(model)  # a snapshot was taken after 10 healthy steps
    for _ in range(3):
        backward_step(guard, model, optimizer)
    assert not same(params(model), snapshot_params)
    for _ in range(blowups):
        backward_step(guard, model, optimizer, scale=1e6)
    return snapshot_params


def test_rollback_restores_the_snapshot_bit_exactly_and_backs_off_the_groups():
    model, optimizer = make()
    guard = Guard(model, optimizer, snapshot_every=10, forgive_after=0)
    snapshot_params = _run_to_rollback(guard, model, optimizer)
    assert same(params(model), snapshot_params)
    assert [e["event"] for e in guard.events] == ["skip", "rollback"]
    rollback = guard.events[-1]
    assert rollback["cause"] == "blow_up" and rollback["restored_step"] == 10
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.025)
    assert guard.scale == 0.5 and guard.rollbacks == 1


def test_a_first_rollback_in_a_while_retries_at_the_same_rate():
    model, optimizer = make()
    guard = Guard(model, optimizer, snapshot_every=10)
    _run_to_rollback(guard, model, optimizer)
    assert guard.events[-1]["event"] == "rollback" and guard.events[-1]["backoff"] == 1.0
    assert optimizer.param_groups[0]["lr"] == 0.05
    for _ in range(2):  # a second divergence soon after: now the rate goes down
        backward_step(guard, model, optimizer, scale=1e6)
    assert guard.events[-1]["backoff"] == 0.5 and optimizer.param_groups[0]["lr"] == 0.025


def test_backoff_composes_with_a_torch_scheduler_and_keeps_its_clock():
    model, optimizer = make()
    shape = lambda t: 1.0 / (1 + 0.1 * t)  # noqa: E731
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, shape)
    guard = Guard(model, optimizer, scheduler, snapshot_every=10, forgive_after=0)
    _run_to_rollback(guard, model, optimizer)
    assert scheduler.last_epoch == guard.steps == 15
    assert scheduler.base_lrs == [pytest.approx(0.025)]
    for _ in range(4):
        backward_step(guard, model, optimizer)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.025 * shape(19))


def test_backoff_composes_with_schedule_lr_through_its_scale():
    from lrkit.schedules import cosine
    from lrkit.torch import ScheduleLR

    model, optimizer = make()
    schedule = cosine(100)
    scheduler = ScheduleLR(optimizer, schedule)
    guard = Guard(model, optimizer, scheduler, snapshot_every=10, forgive_after=0)
    _run_to_rollback(guard, model, optimizer)
    assert scheduler.scale == 0.5
    for _ in range(5):
        backward_step(guard, model, optimizer)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.05 * 0.5 * schedule(20))


def test_gives_up_with_divergence_error_after_bounded_retries(tmp_path):
    model, optimizer = make()
    log = tmp_path / "events.jsonl"
    guard = Guard(model, optimizer, max_retries=2, event_log=log, check_grads=True)
    for _ in range(5):
        backward_step(guard, model, optimizer)
    with pytest.raises(DivergenceError) as info:
        for _ in range(20):
            optimizer.zero_grad()
            guard.step(torch.tensor(math.nan))
    assert info.value.diagnosis.cause == "non_finite_loss"
    kinds = [e["event"] for e in guard.events]
    assert kinds[-1] == "give_up" and kinds.count("rollback") == 2
    # one step number, the loop's (the monitor's count was rewound by the rollbacks)
    assert info.value.diagnosis.step == guard.steps == guard.events[-1]["step"]
    assert f"step {guard.steps}:" in str(info.value)
    lines = log.read_text().splitlines()

    def strict(constant):
        raise ValueError(constant)

    events = [json.loads(line, parse_constant=strict) for line in lines]
    assert [e["event"] for e in events] == kinds
    assert all({"step", "cause", "evidence", "lr"} <= set(e) for e in events)


def test_file_snapshots_are_atomic_and_bounded(tmp_path):
    model, optimizer = make()
    guard = Guard(model, optimizer, snapshot_every=3, keep=2, directory=tmp_path, forgive_after=0)
    snapshot_params = _run_to_rollback(guard, model, optimizer)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) <= 2 and all(f.startswith("guard-") and f.endswith(".pt") for f in files)
    assert not any(f.endswith(".tmp") for f in files)
    assert guard.events[-1]["event"] == "rollback"
    assert guard.events[-1]["restored_step"] == 12
    assert not same(params(model), snapshot_params)  # restored the newer snapshot (step 12)


@pytest.mark.parametrize("check_grads", [True, False])
def test_amp_overflow_is_left_to_the_grad_scaler(check_grads):
    model, optimizer = make()
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    guard = Guard(model, optimizer, scaler=scaler, check_grads=check_grads)

    def amp_step(inf_grad=False, nan_loss=False):
        optimizer.zero_grad(set_to_none=True)
        loss = loss_of(model) * (math.nan if nan_loss else 1.0)
        scaler.scale(loss).backward()
        if inf_grad:
            next(model.parameters()).grad.view(-1)[0] = math.inf
        return guard.step(loss)

    for _ in range(5):
        amp_step()
    before = params(model)
    amp_step(inf_grad=True)
    assert same(params(model), before)  # the scaler skipped the update
    assert scaler.get_scale() == 512.0 and guard.events == []
    amp_step(nan_loss=True)
    assert [e["event"] for e in guard.events] == ["skip"]
    amp_step()
    assert not same(params(model), before)


def test_clipping_bounds_the_applied_gradient_and_reports_the_raw_norm():
    model, optimizer = make(momentum=0.0)
    guard = Guard(model, optimizer, clip_grad_norm=1e-3)
    backward_step(guard, model, optimizer, scale=100.0)
    norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in model.parameters()]))
    assert float(norm) == pytest.approx(1e-3, rel=1e-4)
    assert guard.monitor.state_dict()["grads"][0] > 1e-3


def test_a_nan_gradient_without_the_gradient_check_is_recovered_by_a_rollback():
    model, optimizer = make()
    guard = Guard(model, optimizer, snapshot_every=5)
    for _ in range(7):
        backward_step(guard, model, optimizer)
    snapshot_params = None
    backward_step(guard, model, optimizer, nan_grad=True)  # reaches the weights
    assert not all(torch.isfinite(p).all() for p in model.parameters())
    for _ in range(2):
        backward_step(guard, model, optimizer)
    assert [(e["event"], e["cause"]) for e in guard.events] == [
        ("skip", "non_finite_loss"), ("rollback", "non_finite_loss")]
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert guard.events[-1]["restored_step"] == 5 and snapshot_params is None


def test_gradient_accumulation_steps_once_per_optimizer_step():
    model, optimizer = make()
    guard = Guard(model, optimizer)
    ref_model, ref_opt = make()
    for _ in range(5):
        for m, o, g in ((model, optimizer, guard), (ref_model, ref_opt, None)):
            o.zero_grad()
            losses = [torch.nn.functional.mse_loss(m(X[i::2]), Y[i::2]) / 2 for i in range(2)]
            for loss in losses:
                loss.backward()
            if g is None:
                o.step()
            else:
                g.step(sum(float(loss.detach()) for loss in losses))
    assert same(params(model), params(ref_model)) and guard.steps == 5


# ---------------------------------------------------------------- torch.distributed (gloo)
def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank, world, port, out_dir):
    import torch.distributed as dist

    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        model, optimizer = make(seed=0)
        guard = Guard(model, optimizer, snapshot_every=5, forgive_after=0)
        assert guard.distributed
        for step in range(16):
            optimizer.zero_grad(set_to_none=True)
            loss = torch.nn.functional.mse_loss(model(X[rank::2]), Y[rank::2])
            if rank == 1 and step == 6:
                loss = loss * math.nan  # only rank 1 sees a poisoned batch
            if rank == 0 and step in (11, 12):
                loss = loss * 1e6  # only rank 0 sees the blow-up
            loss.backward()
            for p in model.parameters():  # what DDP does: average the gradients
                dist.all_reduce(p.grad)
                p.grad /= world
            guard.step(loss)
        flat = torch.cat([p.detach().flatten() for p in model.parameters()])
        torch.save({"events": [(e["event"], e["step"]) for e in guard.events], "params": flat},
                   os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def test_all_ranks_agree_on_skips_and_rollbacks(tmp_path):
    import torch.multiprocessing as mp

    # fork: the workers inherit the imported modules (spawn would re-import torch twice)
    mp.start_processes(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True,
                       start_method="fork")
    r0 = torch.load(tmp_path / "rank0.pt")
    r1 = torch.load(tmp_path / "rank1.pt")
    assert r0["events"] == r1["events"] == [("skip", 6), ("skip", 11), ("rollback", 12)]
    assert torch.equal(r0["params"], r1["params"])


def test_reduce_lr_on_plateau_is_left_to_the_caller_and_composes_with_the_backoff():
    model, optimizer = make()
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.1, patience=0)
    guard = Guard(model, optimizer, scheduler, snapshot_every=10, forgive_after=0)
    _run_to_rollback(guard, model, optimizer)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.025)
    scheduler.step(1.0)
    scheduler.step(2.0)  # no improvement: the plateau scheduler cuts the backed-off rate
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.0025)



def test_backoff_lowers_reduce_lr_on_plateau_floor_too():
    model, optimizer = make()
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.1, patience=0,
                                                           min_lr=0.01)
    guard = Guard(model, optimizer, scheduler, snapshot_every=10, forgive_after=0)
    _run_to_rollback(guard, model, optimizer)
    scheduler.step(1.0)
    scheduler.step(2.0)  # the cut stops at the floor, which the backoff halved as well
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.005)

def test_backoff_keeps_group_ratios_and_tensor_rates_in_place():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    rate = torch.tensor(0.05)
    optimizer = torch.optim.SGD([
        {"params": model[0].parameters(), "lr": rate},
        {"params": model[2].parameters(), "lr": 0.005},
    ], lr=0.05, momentum=0.9)
    guard = Guard(model, optimizer, snapshot_every=10, forgive_after=0)
    _run_to_rollback(guard, model, optimizer)
    assert optimizer.param_groups[0]["lr"] is rate  # the same tensor (torch.compile guards on it)
    assert float(rate) == pytest.approx(0.025)
    assert optimizer.param_groups[1]["lr"] == pytest.approx(0.0025)


def test_bad_scheduler_and_scaler_are_refused_with_the_argument_named():
    model, optimizer = make()
    with pytest.raises(TypeError, match="`scheduler` must be"):
        Guard(model, optimizer, "cosine(100)")
    with pytest.raises(TypeError, match="`scaler` must be"):
        Guard(model, optimizer, scaler="amp")
    _, other = make()
    with pytest.raises(ValueError, match="`scheduler` must drive `optimizer`"):
        Guard(model, optimizer, torch.optim.lr_scheduler.LambdaLR(other, lambda t: 1.0))


def test_numpy_scalar_losses_are_accepted():
    import numpy as np

    model, optimizer = make()
    guard = Guard(model, optimizer)
    assert guard.step(np.float32(0.5)).ok and guard.step(np.float64(0.5)).ok


def test_a_disabled_grad_scaler_does_not_let_a_nan_gradient_through():
    model, optimizer = make()
    scaler = torch.amp.GradScaler("cpu", enabled=False)  # GradScaler(enabled=use_amp)
    guard = Guard(model, optimizer, scaler=scaler, check_grads=True)
    for _ in range(3):
        backward_step(guard, model, optimizer)
    before = params(model)
    backward_step(guard, model, optimizer, nan_grad=True)
    assert same(params(model), before)
    assert [(e["event"], e["cause"]) for e in guard.events] == [("skip", "non_finite_grad")]


@pytest.mark.parametrize("scaler", [None, "disabled"])
def test_lbfgs_steps_through_its_closure_like_a_plain_loop(scaler):
    # a disabled GradScaler (enabled=use_amp) used to drop the closure: LBFGS.step() raised
    def run(guarded):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
        optimizer = torch.optim.LBFGS(model.parameters(), lr=0.5, max_iter=4)
        amp = None if scaler is None else torch.amp.GradScaler("cpu", enabled=False)
        guard = Guard(model, optimizer, scaler=amp) if guarded else None

        def closure():
            optimizer.zero_grad()
            loss = loss_of(model)
            loss.backward()
            return loss

        for _ in range(5):
            if guard is None:
                optimizer.step(closure)
            else:
                guard.step(closure(), closure=closure)
        return params(model)

    assert same(run(True), run(False))


def test_a_closure_with_an_enabled_grad_scaler_is_refused():
    model = torch.nn.Linear(4, 1)
    optimizer = torch.optim.LBFGS(model.parameters())
    guard = Guard(model, optimizer, scaler=torch.amp.GradScaler("cpu", enabled=True))
    with pytest.raises(ValueError, match="`closure` cannot be used with an enabled GradScaler"):
        guard.step(1.0, closure=lambda: torch.tensor(1.0))


def test_loading_a_state_removes_the_snapshot_file_it_replaces(tmp_path):
    model = torch.nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    first = Guard(model, optimizer, directory=tmp_path / "a", snapshot_every=100)
    for _ in range(5):
        optimizer.zero_grad()
        loss = loss_of(model)
        loss.backward()
        first.step(loss)
    state = first.state_dict()
    first.close()
    resumed = Guard(model, optimizer, directory=tmp_path / "b", snapshot_every=100)
    resumed.load_state_dict(state)
    assert [p.name for p in (tmp_path / "b").iterdir()] == ["guard-000000005.pt"]
    resumed.close()


_SCHEDULERS = {
    "one_cycle": lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.05, total_steps=60),
    "cyclic": lambda o: torch.optim.lr_scheduler.CyclicLR(o, 0.01, 0.05, step_size_up=10),
    "sequential": lambda o: torch.optim.lr_scheduler.SequentialLR(o, [
        torch.optim.lr_scheduler.LinearLR(o, 0.1, 1.0, 5),
        torch.optim.lr_scheduler.CosineAnnealingLR(o, 20)], milestones=[5]),
    # audit case: a floor above 0 pulled the backed-off rate back up to the floor's level
    "cosine_floor": lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 60, eta_min=0.01),
    "restarts_floor": lambda o: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
        o, 15, eta_min=0.01),
}


@pytest.mark.parametrize("name", sorted(_SCHEDULERS))
def test_backoff_halves_every_later_rate_of_any_torch_scheduler(name):
    model, optimizer = make()
    reference = _SCHEDULERS[name](optimizer)
    expected = []
    for _ in range(60):
        expected.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        reference.step()
    model, optimizer = make()
    guard = Guard(model, optimizer, _SCHEDULERS[name](optimizer), snapshot_every=5, forgive_after=0)
    rates = []
    for t in range(60):
        rates.append(optimizer.param_groups[0]["lr"])
        backward_step(guard, model, optimizer, scale=math.nan if t in (20, 21) else 1.0)
    assert [e["event"] for e in guard.events] == ["skip", "rollback"]
    assert rates[:22] == expected[:22]
    assert rates[22:] == pytest.approx([0.5 * lr for lr in expected[22:]], rel=1e-9, abs=1e-12)


def test_a_resumed_guard_decides_exactly_like_the_uninterrupted_one():
    import io

    faults = {12: 1e6, 13: 1e6, 26: 1e6, 27: 1e6}

    def run(resume_at=None):
        model, optimizer = make()
        guard = Guard(model, optimizer, snapshot_every=5)
        for t in range(40):
            if t == resume_at:  # model and optimizer stay as a checkpoint restores them
                buffer = io.BytesIO()
                torch.save(guard.state_dict(), buffer)
                buffer.seek(0)
                guard = Guard(model, optimizer, snapshot_every=5)
                guard.load_state_dict(torch.load(buffer, weights_only=True))
            backward_step(guard, model, optimizer, scale=faults.get(t, 1.0))
        return guard, params(model)

    guard, final = run()
    resumed, resumed_final = run(resume_at=20)
    assert [(e["event"], e["step"], e.get("backoff")) for e in guard.events] == [
        ("skip", 12, None), ("rollback", 13, 1.0), ("skip", 26, None), ("rollback", 27, 0.5)]
    untimed = lambda events: [{k: v for k, v in e.items() if k != "time"} for e in events]  # noqa: E731
    assert untimed(resumed.events) == untimed(guard.events)
    assert resumed.steps == 40 and resumed.rollbacks == 2
    assert same(resumed_final, final)
    with pytest.raises(ValueError, match="`state_dict` must come from Guard.state_dict"):
        resumed.load_state_dict({"scale": 1.0})


def test_a_manual_snapshot_at_the_step_of_a_kept_one_does_not_lose_its_file(tmp_path):
    """Audit case: both snapshots of step 0 had one file; dropping the older one deleted it,
    and the rollback that fell back to the newer one raised FileNotFoundError."""
    model, optimizer = make()
    guard = Guard(model, optimizer, snapshot_every=5, directory=tmp_path, max_skips=0)
    guard.snapshot()  # step 0 again
    with pytest.raises(DivergenceError):  # every rollback ran, down to the oldest snapshot
        for t in range(20):
            backward_step(guard, model, optimizer, scale=math.nan if t >= 5 else 1.0)
            assert all(s.path.exists() for s in guard._snapshots)
    assert [e["event"] for e in guard.events].count("rollback") == 3


def test_paths_of_the_wrong_kind_are_named():
    model, optimizer = make()
    with pytest.raises(TypeError, match="`event_log` must be a path or None, but got event_log=123"):
        Guard(model, optimizer, event_log=123)
    with pytest.raises(TypeError, match="`directory` must be a path or None"):
        Guard(model, optimizer, directory=123)


def test_a_file_where_the_snapshot_folder_should_be_is_named(tmp_path):
    model, optimizer = make()
    (tmp_path / "f.txt").write_text("")
    with pytest.raises(ValueError, match="`directory` must be a folder"):
        Guard(model, optimizer, directory=tmp_path / "f.txt")
    with pytest.raises(ValueError, match="`event_log` must be a file path"):
        Guard(model, optimizer, event_log=tmp_path)


@pytest.mark.parametrize("key, value", [("scale", "x"), ("step", "abc")])
def test_a_malformed_state_leaves_the_guard_as_it_was(key, value):
    model, optimizer = make()
    guard = Guard(model, optimizer, snapshot_every=5)
    for _ in range(7):
        backward_step(guard, model, optimizer)
    before = guard.state_dict()
    state = dict(before, **{key: value})
    state["monitor"] = Guard(*make()).monitor.state_dict()  # a different window
    with pytest.raises(ValueError, match=f"but got {key}={value!r}"):
        guard.load_state_dict(state)
    assert guard.state_dict() == before


# --- Guard: a rollback restores optimizer state and RNG exactly; falls back to the older snapshot
_X = torch.linspace(-1, 1, 32).reshape(8, 4)
_Y = _X.sum(dim=1, keepdim=True)


def _momentum_model():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    return model, torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)


def _guarded_step(guard, model, opt, scale=1.0):
    opt.zero_grad(set_to_none=True)
    loss = torch.nn.functional.mse_loss(model(_X), _Y) * scale
    loss.backward()
    return guard.step(loss)


def test_rollback_restores_momentum_and_rng_of_the_snapshot_exactly():
    model, opt = _momentum_model()
    guard = Guard(model, opt, snapshot_every=10, forgive_after=0)
    for _ in range(10):
        _guarded_step(guard, model, opt)
    momentum = [opt.state[p]["momentum_buffer"].clone() for p in model.parameters()]
    rng = torch.get_rng_state().clone()
    for _ in range(3):
        _guarded_step(guard, model, opt)
        torch.rand(5)  # the loop draws random numbers (dropout, sampling)
    for _ in range(2):
        _guarded_step(guard, model, opt, scale=1e6)  # finite blow-up: skip, then roll back
    assert [e["event"] for e in guard.events] == ["skip", "rollback"]
    for p, m in zip(model.parameters(), momentum, strict=True):
        assert torch.equal(opt.state[p]["momentum_buffer"], m)
    assert torch.equal(torch.get_rng_state(), rng)


def test_a_second_failed_retry_falls_back_to_the_older_snapshot():
    model, opt = _momentum_model()
    guard = Guard(model, opt, snapshot_every=5, keep=2, forgive_after=0, max_retries=5)
    for _ in range(10):
        _guarded_step(guard, model, opt)  # snapshots at steps 5 and 10 kept
    for _ in range(6):  # the fault persists: skip, rollback(10), skip... rollback must go to 5
        _guarded_step(guard, model, opt, scale=math.nan)
    restored = [e["restored_step"] for e in guard.events if e["event"] == "rollback"]
    assert restored[:2] == [10, 5]


@pytest.mark.parametrize("gap, expected", [(20, 0.5), (21, 1.0)])

def test_forgive_after_is_the_exact_window(gap, expected):
    model, opt = _momentum_model()
    guard = Guard(model, opt, snapshot_every=5, forgive_after=20)
    # first rollback at step 11; the second rollback at step 11 + gap
    t = 0
    while guard.rollbacks < 2 and t < 200:
        bad = t in (10, 11) or t in (10 + gap, 11 + gap)
        _guarded_step(guard, model, opt, scale=1e6 if bad else 1.0)
        t += 1
    rb = [e for e in guard.events if e["event"] == "rollback"]
    assert rb[1]["step"] - rb[0]["step"] == gap
    assert rb[1]["backoff"] == expected


def test_no_snapshot_while_a_too_high_awaits_its_confirming_check():
    # a too_high found at one check is reported "ok" until the next agrees: the Guard must
    # not snapshot a state that may be drifting up in between
    from lrkit.monitor import Monitor

    monitor = Monitor(window=20, warmup=0, check_every=5)
    model, opt = _momentum_model()
    guard = Guard(model, opt, monitor=monitor, snapshot_every=1, forgive_after=0)
    held = []
    for step in range(120):
        # falling, then rising steadily from step 60: the monitor finds "too high"
        scale = 1.0 if step < 60 else 1.0 + 0.05 * (step - 60)
        verdict = _guarded_step(guard, model, opt, scale=scale)
        if monitor.candidate == "too_high" and verdict.status == "ok":
            # snapshot_every=1: a snapshot would have reset the count to 0
            held.append(guard._since_snapshot)
    assert held, "the rising loss was never found too high at a first check"
    assert all(count > 0 for count in held)
