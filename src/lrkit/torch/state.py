"""Snapshots of training state that restore bit-exactly: model, optimizer, scheduler,
GradScaler and every random number generator (python, numpy, torch, CUDA).

A snapshot lives in CPU memory (never a second copy on the GPU) or, when given a
directory, in a file written atomically (temporary file, fsync, rename) so that a crash
mid-write leaves the previous snapshot intact.

>>> import torch
>>> model = torch.nn.Linear(2, 1)
>>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
>>> snap = Snapshot.take(model, opt)
>>> before = model.weight.detach().clone()
>>> with torch.no_grad(): _ = model.weight.add_(1.0)
>>> snap.restore(model, opt)
>>> bool(torch.equal(model.weight, before))
True
"""

from __future__ import annotations

import copy
import os
import random
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch


def capture_rng() -> dict[str, Any]:
    """The state of python's, numpy's, torch's and (when present) CUDA's generators."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Put back what :func:`capture_rng` returned."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state:
        torch.cuda.set_rng_state_all(state["cuda"])


def capture_modes(model: torch.nn.Module) -> dict[str, bool]:
    """Every submodule's train/eval mode, by name, for :func:`restore_modes`."""
    return {name: module.training for name, module in model.named_modules()}


def restore_modes(model: torch.nn.Module, modes: dict[str, bool]) -> None:
    """Put back the modes :func:`capture_modes` read (``model.train()`` sets them all)."""
    for name, module in model.named_modules():
        module.training = modes[name]


def _map_tensors(obj: Any, on_tensor: Callable[[torch.Tensor], Any],
                 on_other: Callable[[Any], Any]) -> Any:
    """``obj`` rebuilt through its dicts, lists and tuples, its tensors passed through
    ``on_tensor`` and everything else through ``on_other``."""
    if isinstance(obj, torch.Tensor):
        return on_tensor(obj)
    if isinstance(obj, dict):
        return {key: _map_tensors(value, on_tensor, on_other) for key, value in obj.items()}
    if isinstance(obj, list):
        return [_map_tensors(value, on_tensor, on_other) for value in obj]
    if isinstance(obj, tuple):
        return tuple(_map_tensors(value, on_tensor, on_other) for value in obj)
    return on_other(obj)


def to_cpu(obj: Any) -> Any:
    """A deep copy of ``obj`` with every tensor cloned onto the CPU."""
    return _map_tensors(obj, lambda t: t.detach().to("cpu", copy=True), copy.deepcopy)


def _compact(obj: Any) -> Any:
    """``obj`` as it is, but with every tensor that views part of a larger storage cloned:
    torch.save writes a tensor's whole storage, so a small view of a big tensor would
    otherwise cost the big one's size on disk (and its host copy on the way there)."""

    def compact(tensor: torch.Tensor) -> torch.Tensor:
        if tensor.layout != torch.strided or tensor.is_nested:
            return tensor  # sparse and nested tensors have no single storage to trim
        if tensor.untyped_storage().nbytes() > tensor.numel() * tensor.element_size():
            return tensor.detach().clone()
        return tensor

    return _map_tensors(obj, compact, lambda other: other)


def atomic_save(obj: Any, path: str | os.PathLike[str]) -> Path:
    """``torch.save`` to ``path`` through a temporary file and a rename.

    Readers see either the old file or the complete new one, never a torn write.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return path


@dataclass
class Snapshot:
    """A restorable copy of training state, in CPU memory or in one file.

    ``Snapshot.take(...)`` copies; ``restore(...)`` writes the copy back into the same
    live objects (parameters keep their device and identity, so optimizers that hold
    them keep working).
    """

    payload: dict[str, Any] | None = None
    path: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def take(
        cls,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer | None = None,
        scheduler: Any = None,
        scaler: Any = None,
        *,
        directory: str | os.PathLike[str] | None = None,
        name: str = "snapshot.pt",
        extra: dict[str, Any] | None = None,
    ) -> Snapshot:
        # in memory: detached CPU copies. To a file: the live state, which torch.save
        # streams out one storage at a time, so host memory never holds a second full copy
        copy_of = to_cpu if directory is None else _compact
        state = model.state_dict()
        payload = {
            "model": copy_of(state),
            # buffers registered with persistent=False are not in the state_dict, but
            # training changes them all the same (counters, caches)
            "buffers": copy_of({name: buffer for name, buffer in model.named_buffers()
                                if name not in state}),
            "optimizer": copy_of(optimizer.state_dict()) if optimizer is not None else None,
            "scheduler": copy_of(scheduler.state_dict()) if scheduler is not None else None,
            "scaler": copy_of(scaler.state_dict()) if scaler is not None else None,
            "rng": capture_rng(),
            "extra": copy.deepcopy(extra or {}),
        }
        if directory is None:
            return cls(payload=payload, extra=payload["extra"])
        path = atomic_save(payload, Path(directory) / name)
        return cls(path=path, extra=payload["extra"])

    def load_payload(self) -> dict[str, Any]:
        """The stored state (read from disk for a file snapshot)."""
        if self.payload is not None:
            return self.payload
        assert self.path is not None
        return torch.load(self.path, map_location="cpu", weights_only=False)

    def restore(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer | None = None,
        scheduler: Any = None,
        scaler: Any = None,
        *,
        rng: bool = True,
    ) -> None:
        """Write the stored state back into the given live objects."""
        payload = self.load_payload()
        model.load_state_dict(payload["model"])
        _restore_buffers(model, payload.get("buffers", {}))
        if optimizer is not None and payload["optimizer"] is not None:
            _load_optimizer_state(optimizer, payload["optimizer"])
        if scheduler is not None and payload["scheduler"] is not None:
            scheduler.load_state_dict(copy.deepcopy(payload["scheduler"]))
        if scaler is not None and payload["scaler"] is not None:
            scaler.load_state_dict(copy.deepcopy(payload["scaler"]))
        if rng:
            restore_rng(payload["rng"])

    def nbytes(self) -> int:
        """Bytes of tensor data held in memory (0 for a file snapshot)."""
        if self.payload is None:
            return 0
        return _tensor_bytes(self.payload)


def _restore_buffers(model: torch.nn.Module, saved: dict[str, torch.Tensor]) -> None:
    """Write saved buffers back in place (a buffer re-assigned since, with another shape
    or type, is replaced on its device)."""
    with torch.no_grad():
        for name, value in saved.items():
            owner_name, _, leaf = name.rpartition(".")
            owner = model.get_submodule(owner_name)
            live = getattr(owner, leaf)
            if live.shape == value.shape and live.dtype == value.dtype:
                live.copy_(value)
            else:
                setattr(owner, leaf, value.to(live.device).clone())


def _load_optimizer_state(optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    # load_state_dict casts every stored tensor of a floating-point parameter to that
    # parameter's dtype and device (float32 momentum of a bfloat16 parameter, even an int64
    # counter, comes back bfloat16) and replaces the live tensors, which torch.compile and
    # CUDA graphs hold on to (a tensor rate too): copy the stored values into the live
    # tensors instead, and give a tensor that has no live one its stored dtype back.
    params = [p for group in optimizer.param_groups for p in group["params"]]
    live = [dict(optimizer.state.get(p, {})) for p in params]
    live_lrs = [group["lr"] for group in optimizer.param_groups]
    optimizer.load_state_dict(copy.deepcopy(state))
    with torch.no_grad():
        for p, before, stored in zip(params, live, _per_parameter(state, len(params)), strict=False):
            for key, value in stored.items():
                if not isinstance(value, torch.Tensor):
                    continue
                old, loaded = before.get(key), optimizer.state[p].get(key)
                if (isinstance(old, torch.Tensor) and old.shape == value.shape
                        and old.dtype == value.dtype and old.layout == value.layout):
                    optimizer.state[p][key] = old.copy_(value)
                elif isinstance(loaded, torch.Tensor) and loaded.dtype != value.dtype:
                    optimizer.state[p][key] = value.to(loaded.device, copy=True)
    for group, lr in zip(optimizer.param_groups, live_lrs, strict=True):
        if isinstance(lr, torch.Tensor):
            stored_lr = group["lr"]
            lr.copy_(stored_lr if isinstance(stored_lr, torch.Tensor) else torch.tensor(stored_lr))
            group["lr"] = lr


def _per_parameter(state: dict[str, Any], count: int) -> list[dict[str, Any]]:
    """The stored state of each parameter, in the order of the optimizer's groups (none
    for an optimizer whose state_dict is not torch's usual one)."""
    groups, entries = state.get("param_groups"), state.get("state")
    if not isinstance(groups, list) or not isinstance(entries, dict):
        return []
    indices = [index for group in groups for index in group.get("params", [])]
    return [entries.get(index, {}) for index in indices] if len(indices) == count else []


def _tensor_bytes(obj: Any) -> int:
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, dict):
        return sum(_tensor_bytes(value) for value in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(_tensor_bytes(value) for value in obj)
    return 0
