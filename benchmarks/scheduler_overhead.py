"""Per-step overhead of ``ScheduleLR.step()`` against torch's ``LambdaLR`` and ``CosineAnnealingLR``.

Each scheduler drives its own copy of the same optimizer (same groups, same rate type);
the timed loop calls only ``scheduler.step()``, so the figure is the scheduler's own cost.
Blocks of steps of the three schedulers are interleaved round by round and the median block
is kept, so that load from other processes hits every scheduler alike; results are ratios.

    nice -n 10 python benchmarks/scheduler_overhead.py            # writes docs/benchmarks/schedules.md
    python benchmarks/scheduler_overhead.py --quick --no-write    # a fast look

Target: ScheduleLR no slower than LambdaLR (ratio <= 1) in every configuration.
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch.optim.lr_scheduler import CosineAnnealingLR, LambdaLR

from lrkit.schedules import cosine, warmup
from lrkit.torch import ScheduleLR

ROOT = Path(__file__).resolve().parent.parent
TOTAL = 10**7  # far beyond the steps timed: every scheduler stays inside its horizon
WARMUP = 1000


def make_optimizer(groups: int, tensor_lr: bool) -> torch.optim.Optimizer:
    params = [torch.nn.Parameter(torch.zeros(4)) for _ in range(groups)]
    return torch.optim.SGD(
        [{"params": [p], "lr": torch.tensor(0.1) if tensor_lr else 0.1} for p in params], lr=0.1
    )


def cosine_lambda(t: int) -> float:
    return 0.5 * (1.0 + math.cos(math.pi * min(t, TOTAL) / TOTAL))


def warmup_cosine_lambda(t: int) -> float:
    if t < WARMUP:
        return (t + 1) / (WARMUP + 1)
    return cosine_lambda(t - WARMUP)


def contenders(shape: str) -> dict[str, Callable[[torch.optim.Optimizer], object]]:
    if shape == "cosine":
        return {
            "ScheduleLR": lambda o: ScheduleLR(o, cosine(TOTAL)),
            "LambdaLR": lambda o: LambdaLR(o, cosine_lambda),
            "CosineAnnealingLR": lambda o: CosineAnnealingLR(o, T_max=TOTAL),
        }
    return {
        "ScheduleLR": lambda o: ScheduleLR(o, warmup(WARMUP, cosine(TOTAL))),
        "LambdaLR": lambda o: LambdaLR(o, warmup_cosine_lambda),
    }


def measure(shape: str, groups: int, tensor_lr: bool, rounds: int, block: int) -> dict[str, float]:
    """Median seconds per ``step()`` of each contender."""
    schedulers = {name: make(make_optimizer(groups, tensor_lr))
                  for name, make in contenders(shape).items()}
    times: dict[str, list[float]] = {name: [] for name in schedulers}
    for sched in schedulers.values():  # warm caches and torch's one-time checks
        for _ in range(50):
            sched.step()
    for _ in range(rounds):
        for name, sched in schedulers.items():
            step = sched.step
            start = time.perf_counter()
            for _ in range(block):
                step()
            times[name].append((time.perf_counter() - start) / block)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--block", type=int, default=2000, help="steps per timed block")
    parser.add_argument("--quick", action="store_true", help="3 rounds of 500 steps")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.block = 3, 500
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")  # torch warns that scheduler.step() precedes optimizer.step()

    rows = []
    for shape in ("cosine", "warmup+cosine"):
        for groups in (1, 10):
            for tensor_lr in (False, True):
                result = measure(shape, groups, tensor_lr, args.rounds, args.block)
                ours = result["ScheduleLR"]
                row = {
                    "shape": shape, "groups": groups, "lr": "tensor" if tensor_lr else "float",
                    "ScheduleLR_us": ours * 1e6, "LambdaLR_us": result["LambdaLR"] * 1e6,
                    "vs_lambda": ours / result["LambdaLR"],
                    "Cosine_us": result.get("CosineAnnealingLR", math.nan) * 1e6,
                    "vs_cosine": ours / result.get("CosineAnnealingLR", math.nan),
                }
                rows.append(row)
                print(f"{shape:14s} groups={groups:2d} lr={row['lr']:6s} "
                      f"ScheduleLR {row['ScheduleLR_us']:6.2f} us  LambdaLR {row['LambdaLR_us']:6.2f} us "
                      f"(ratio {row['vs_lambda']:.2f})  CosineAnnealingLR {row['Cosine_us']:6.2f} us "
                      f"(ratio {row['vs_cosine']:.2f})", flush=True)

    worst = max(row["vs_lambda"] for row in rows)
    verdict = "met" if worst <= 1.0 else "NOT met"
    lines = [
        "## Schedules: per-step overhead of `ScheduleLR`",
        "",
        "`benchmarks/scheduler_overhead.py` times `scheduler.step()` alone for `lrkit.torch."
        "ScheduleLR`, torch's `LambdaLR` (with the same shape as a Python lambda) and torch's "
        "`CosineAnnealingLR`, each driving its own copy of the same SGD optimizer. Blocks of "
        f"{args.block} steps are interleaved over {args.rounds} rounds; the table gives the median "
        "microseconds per step and the ratio ScheduleLR / peer (below 1 = ScheduleLR is faster).",
        "",
        "| shape | groups | lr | ScheduleLR (us) | LambdaLR (us) | ratio vs LambdaLR "
        "| CosineAnnealingLR (us) | ratio vs CosineAnnealingLR |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        cos = "-" if math.isnan(row["Cosine_us"]) else f"{row['Cosine_us']:.2f}"
        vs_cos = "-" if math.isnan(row["vs_cosine"]) else f"{row['vs_cosine']:.2f}"
        lines.append(
            f"| {row['shape']} | {row['groups']} | {row['lr']} | {row['ScheduleLR_us']:.2f} "
            f"| {row['LambdaLR_us']:.2f} | **{row['vs_lambda']:.2f}** | {cos} | {vs_cos} |"
        )
    lines += [
        "",
        f"Target: no slower than `LambdaLR` (ratio <= 1) — **{verdict}** (worst ratio "
        f"{worst:.2f}). ScheduleLR evaluates a shared schedule once per step whatever the "
        "number of groups, writes tensor rates in place with `fill_` and has no recursion or "
        "per-step bookkeeping; torch's schedulers go through `get_lr()` with warning checks "
        "on every step, and `CosineAnnealingLR` reads the previous rate back.",
        "",
        f"Measured with torch {torch.__version__}, Python {platform.python_version()}, one "
        "torch thread: `nice -n 10 python benchmarks/scheduler_overhead.py`.",
        "",
    ]
    text = "\n".join(lines)
    if not args.no_write:
        target = ROOT / "docs" / "benchmarks" / "schedules.md"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        print(f"wrote {target.relative_to(ROOT)}")
    print()
    print(text)


if __name__ == "__main__":
    main()
