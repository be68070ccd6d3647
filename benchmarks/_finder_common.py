"""Shared pieces of the finder benchmarks: the finder curves of the built-in problems
(cached, so rules can be re-read without re-running sweeps), torch-lr-finder run on the
same model, and writing one marked block of docs/benchmarks/finder.md."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks" / "finder.md"
TITLE = "## Learning-rate finder (`lrkit find`)\n"


def cache_dir() -> Path:
    root = Path(os.environ.get("LRKIT_CACHE", ROOT / ".lrkit-cache"))
    path = root / "finder"
    path.mkdir(parents=True, exist_ok=True)
    return path


def problem_key(problem: Any) -> str:
    """``name-hash``: changes when the problem's model, data, evaluation or budget changes
    (the grid's fingerprint plus the description and steps), so no cache goes stale."""
    import hashlib

    from lrkit.problems.grid import _fingerprint

    text = f"{_fingerprint(problem)}|{problem.description}|{problem.steps}|{problem.default_lr}"
    return f"{problem.name}-{hashlib.sha1(text.encode()).hexdigest()[:8]}"


class _Batches:
    def __init__(self, problem: Any, seed: int) -> None:
        self.problem, self.seed = problem, seed

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.problem.batches(self.seed))


def finder_curve(problem: Any, seed: int, *, num: int = 100, refresh: bool = False) -> dict[str, Any]:
    """lrkit's sweep on ``problem`` at ``seed`` (defaults start=1e-7, end=10), cached as JSON."""
    import torch

    from lrkit.torch.finder import find_lr

    path = cache_dir() / f"curve-v3-{problem_key(problem)}-{seed}-{num}.json"
    if path.exists() and not refresh:
        return json.loads(path.read_text())
    torch.manual_seed(seed)
    model = problem.make_model(seed)
    optimizer = problem.make_optimizer(model.parameters(), problem.default_lr)
    result = find_lr(model, optimizer, problem.loss_fn, _Batches(problem, seed), num=num)
    payload = {"lrs": result.lrs.tolist(), "losses": [float(x) for x in result.losses],
               "onset": result.divergence_index, "stop_reason": result.stop_reason,
               "beta": result.settings["beta"]}
    path.write_text(json.dumps(payload))
    return payload


def reanalyze(curve: dict[str, Any]) -> Any:
    """The RangeTestResult of a cached curve under the current rules."""
    from lrkit.finder import analyze

    return analyze(curve["lrs"], curve["losses"], stop_reason=curve["stop_reason"],
                   onset=curve["onset"], beta=curve["beta"])


def torch_lr_finder_pick(problem: Any, seed: int) -> float | None:
    """torch-lr-finder's own pick: LRFinder.range_test with its defaults (start at the
    optimizer's rate, end 10, 100 steps, smooth_f 0.05, diverge_th 5) and its
    steepest-gradient suggestion (skip_start 10, skip_end 5)."""
    import torch
    from torch_lr_finder import LRFinder
    from torch_lr_finder.lr_finder import TrainDataLoaderIter

    from lrkit._optional import pyplot

    # torch-lr-finder wants model(inputs) and criterion(outputs, labels); a problem has
    # loss_fn(model, batch): the wrapper's forward returns the loss, the criterion passes it on
    class Wrapped(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, box: _Box) -> torch.Tensor:
            return problem.loss_fn(self.inner, box.batch)

    class Loader(TrainDataLoaderIter):
        def __init__(self) -> None:
            self.data_loader = None
            self.auto_reset = True
            self._iterator = iter(problem.batches(seed))

        def __next__(self):  # type: ignore[no-untyped-def]
            return _Box(next(self._iterator)), torch.zeros(())

    torch.manual_seed(seed)
    model = problem.make_model(seed)
    optimizer = problem.make_optimizer(model.parameters(), problem.default_lr)
    finder = LRFinder(Wrapped(model), optimizer, lambda out, _: out, device="cpu")
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):  # it prints its progress and pick
        finder.range_test(Loader())
        plt = pyplot()
        try:
            ax, lr = finder.plot(suggest_lr=True)
            plt.close(ax.figure)
        except (RuntimeError, ValueError):
            lr = None
    finder.reset()
    return None if lr is None else float(lr)


class _Box:
    """Carries a batch through torch-lr-finder's device move untouched (CPU run)."""

    def __init__(self, batch: Any) -> None:
        self.batch = batch

    def to(self, *args: Any, **kwargs: Any) -> _Box:
        return self


def write_block(tag: str, text: str) -> None:
    """Replace the block between <!-- finder:tag --> markers in docs/benchmarks/finder.md."""
    DOC.parent.mkdir(parents=True, exist_ok=True)
    current = DOC.read_text() if DOC.exists() else TITLE
    block = f"<!-- finder:{tag} -->\n{text.strip()}\n<!-- /finder:{tag} -->"
    pattern = re.compile(rf"<!-- finder:{tag} -->.*?<!-- /finder:{tag} -->", re.S)
    if pattern.search(current):
        current = pattern.sub(lambda _: block, current)
    else:
        current = current.rstrip() + "\n\n" + block + "\n"
    DOC.write_text(current)


def geomean(values: list[float]) -> float:
    values = [v for v in values if v is not None and v > 0]
    return float(np.exp(np.mean(np.log(values)))) if values else float("nan")
