"""What does a range test cost? Time and peak memory of ``lrkit.torch.find_lr`` against
``num`` plain training steps and against torch-lr-finder's ``LRFinder.range_test`` on the
same model, data and step count.

Time: digits-mlp and digits-cnn, 100 steps each (rates 1e-7 .. 1e-3, so no sweep stops
early), the three measurements interleaved over 5 rounds, median, reported as ratios.
Memory: a 4x2048 MLP with Adam (about 12.6 M weights) in a fresh subprocess per method;
peak resident memory above the process's level once model, optimizer state and data exist.

    nice -n 10 python benchmarks/finder_cost.py
"""

from __future__ import annotations

import contextlib
import io
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _finder_common import write_block  # noqa: E402

NUM = 100
ROUNDS = 5


class _Batches:
    def __init__(self, problem: Any, seed: int) -> None:
        self.problem, self.seed = problem, seed

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.problem.batches(self.seed))


def plain_steps(problem: Any) -> float:
    import torch

    model = problem.make_model(0)
    optimizer = problem.make_optimizer(model.parameters(), 1e-4)
    batches = problem.batches(0)
    started = time.perf_counter()
    for _ in range(NUM):
        optimizer.zero_grad(set_to_none=True)
        loss = problem.loss_fn(model, next(batches))
        loss.backward()
        optimizer.step()
        float(loss)  # the finder reads every loss too
    del torch
    return time.perf_counter() - started


def lrkit_find(problem: Any) -> float:
    from lrkit.torch.finder import find_lr

    model = problem.make_model(0)
    optimizer = problem.make_optimizer(model.parameters(), 1e-4)
    started = time.perf_counter()
    result = find_lr(model, optimizer, problem.loss_fn, _Batches(problem, 0), start=1e-7, end=1e-3,
                     num=NUM, stop_on_divergence=False)
    assert result.steps == NUM
    return time.perf_counter() - started


def tlf_find(problem: Any) -> float:
    import torch
    from _finder_common import _Box
    from torch_lr_finder import LRFinder
    from torch_lr_finder.lr_finder import TrainDataLoaderIter

    class Wrapped(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, box: Any) -> torch.Tensor:
            return problem.loss_fn(self.inner, box.batch)

    class Loader(TrainDataLoaderIter):
        def __init__(self) -> None:
            self.data_loader, self.auto_reset = None, True
            self._iterator = iter(problem.batches(0))

        def __next__(self):  # type: ignore[no-untyped-def]
            return _Box(next(self._iterator)), torch.zeros(())

    model = problem.make_model(0)
    optimizer = problem.make_optimizer(model.parameters(), 1e-4)
    started = time.perf_counter()
    finder = LRFinder(Wrapped(model), optimizer, lambda out, _: out, device="cpu")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        finder.range_test(Loader(), start_lr=1e-7, end_lr=1e-3, num_iter=NUM, diverge_th=1e12)
    finder.reset()  # lrkit restores by itself; torch-lr-finder needs this call
    return time.perf_counter() - started


def timing() -> list[list[str]]:
    from lrkit import problems

    rows = []
    for name in ("digits-mlp", "digits-cnn"):
        problem = problems.get(name)
        samples: dict[str, list[float]] = {"plain": [], "lrkit": [], "tlf": []}
        plain_steps(problem)  # warm-up
        for _ in range(ROUNDS):
            samples["plain"].append(plain_steps(problem))
            samples["lrkit"].append(lrkit_find(problem))
            samples["tlf"].append(tlf_find(problem))
        med = {k: statistics.median(v) for k, v in samples.items()}
        rows.append([name, f"{med['plain'] * 1000 / NUM:.2f} ms", f"{med['lrkit'] / med['plain']:.2f}x",
                     f"{med['tlf'] / med['plain']:.2f}x", f"{med['lrkit'] / med['tlf']:.2f}x"])
        print(rows[-1], file=sys.stderr)
    return rows


MEMORY_CHILD = r"""
import json, resource, sys, torch
torch.manual_seed(0); torch.set_num_threads(1)
method = sys.argv[1]
width = 2048
model = torch.nn.Sequential(*[m for _ in range(3) for m in (torch.nn.Linear(width, width), torch.nn.ReLU())], torch.nn.Linear(width, 10))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
data = [(torch.randn(64, width), torch.randint(0, 10, (64,))) for _ in range(4)]
loss_fn = lambda m, b: torch.nn.functional.cross_entropy(m(b[0]), b[1])
# one step first: optimizer state exists, as it would in a real run
optimizer.zero_grad(); loss_fn(model, data[0]).backward(); optimizer.step(); optimizer.zero_grad(set_to_none=True)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if method == "plain":
    for i in range(20):
        optimizer.zero_grad(set_to_none=True); loss = loss_fn(model, data[i % 4]); loss.backward(); optimizer.step()
elif method == "lrkit":
    from lrkit.torch.finder import find_lr
    find_lr(model, optimizer, loss_fn, data, start=1e-7, end=1e-4, num=20, stop_on_divergence=False)
elif method == "lrkit-dir":
    import tempfile
    from lrkit.torch.finder import find_lr
    with tempfile.TemporaryDirectory() as d:
        find_lr(model, optimizer, loss_fn, data, start=1e-7, end=1e-4, num=20, stop_on_divergence=False, snapshot_dir=d)
else:
    import contextlib, io
    from torch_lr_finder import LRFinder
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.cat([d[0] for d in data]), torch.cat([d[1] for d in data])), batch_size=64)
    finder = LRFinder(model, optimizer, torch.nn.CrossEntropyLoss(), device="cpu")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        finder.range_test(loader, start_lr=1e-7, end_lr=1e-4, num_iter=20, diverge_th=1e12)
    finder.reset()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
state = sum(p.numel() * 4 for p in model.parameters()) * 3
print(json.dumps({"extra_mb": (peak - base) / 1024, "state_mb": state / 2**20}))
"""


def memory() -> list[list[str]]:
    rows = []
    results = {}
    for method in ("plain", "lrkit", "lrkit-dir", "torch-lr-finder"):
        out = subprocess.run([sys.executable, "-c", MEMORY_CHILD, method], capture_output=True,
                             text=True, check=True).stdout
        results[method] = json.loads(out.strip().splitlines()[-1])
        print(method, results[method], file=sys.stderr)
    state = results["plain"]["state_mb"]
    labels = {"plain": "20 plain training steps", "lrkit": "lrkit find_lr (snapshot in CPU memory)",
              "lrkit-dir": "lrkit find_lr (snapshot_dir=...)",
              "torch-lr-finder": "torch-lr-finder range_test + reset (memory_cache=True)"}
    for method, label in labels.items():
        rows.append([label, f"{results[method]['extra_mb']:.0f} MB",
                     f"{results[method]['extra_mb'] / state:.2f}"])
    return rows


def _markdown(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def main() -> None:
    import torch

    torch.set_num_threads(1)
    time_rows = timing()
    memory_rows = memory()
    text = TEXT.format(
        num=NUM, rounds=ROUNDS,
        time_table=_markdown(["problem", "one plain step", "lrkit find / plain steps",
                              "torch-lr-finder / plain steps", "lrkit / torch-lr-finder"], time_rows),
        memory_table=_markdown(["method", "peak memory above the trained state",
                                "in units of model + Adam state"], memory_rows),
    )
    print(text)
    write_block("cost", text)


TEXT = """\
### Cost

`nice -n 10 python benchmarks/finder_cost.py`. Time: {num} steps each of a plain training loop
(zero_grad, forward, backward, step, read the loss), `lrkit.torch.find_lr` (snapshot,
sweep, analysis, restore) and torch-lr-finder's `range_test` + `reset` on the same model and
batches; median of {rounds} interleaved rounds, as ratios (the machine is shared, so absolute
times drift; ratios taken in the same run do not).

{time_table}

Memory: a 4x2048 MLP with Adam (about 12.6 M weights, 144 MB of weights + Adam state),
CPU, one subprocess per method; peak resident memory above the level once the model, its
optimizer state and the data exist.

{memory_table}

Peak resident memory depends on the allocator and varies by tens of MB between runs (the
plain loop's own figure moved from 18 to 67 MB between two runs); read the rows as "one
extra copy of model + optimizer state, or not". lrkit keeps its snapshot on the CPU whatever the model's device (never a second copy in GPU
memory) or, with `snapshot_dir`, in a file. torch-lr-finder's `memory_cache=True` deep-copies
the state dicts on the model's device, so on a GPU its copy costs GPU memory; this machine
has no GPU, so both copies above live in host memory.
"""


if __name__ == "__main__":
    main()
