"""Fault injection on every built-in problem: does the Guard bring each run home?

For each problem, at a good rate with lrkit's default schedule (ScheduleLR), snapshots every
10 steps, the fault at 40% of the run: the held-out loss of the faulty run under the Guard
as a ratio to the same run without the fault (target: at most 1.10), and the events.
Faults: a NaN in one gradient (default Guard, and with ``check_grads=True``), a batch of
inf, the rate x100 for 3 steps, the loss x1e4 for 3 steps. The harness is the one the
tests use (``tests/torch/_guard_harness.py``).

    nice -n 10 python benchmarks/guard_faults.py      # writes docs/benchmarks/guard_faults.md
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "torch"))
sys.path.insert(0, str(ROOT / "tests" / "monitor"))

from _guard_harness import run  # noqa: E402
from test_diagnosis_problems import GOOD  # noqa: E402

from lrkit import problems  # noqa: E402
from lrkit.errors import DivergenceError  # noqa: E402

FAULTS = {
    "NaN gradient": ("nan_grad", {}),
    "NaN gradient, check_grads": ("nan_grad", {"check_grads": True}),
    "inf batch": ("inf_batch", {}),
    "rate x100 (3 steps)": ("lr_spike", {}),
    "loss x1e4 (3 steps)": ("exploding_loss", {}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problems", default=",".join(problems.names()))
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    header = "| problem | lr | clean held-out | " + " | ".join(FAULTS) + " |"
    lines = [
        "## Guard under injected faults",
        "",
        "Held-out loss of a run with a fault under `lrkit.torch.Guard` (snapshots every 10 "
        "steps, fault at 40% of the run, lrkit's default schedule through `ScheduleLR`), as "
        "a ratio to the same run without the fault (seed 0; target <= 1.10), with the "
        "events (s = skip, r = rollback). Ratios below 1 are the chaos of a changed "
        "trajectory (a skipped batch shifts the data order), not an improvement.",
        "",
        header,
        "|" + "---|" * (3 + len(FAULTS)),
    ]
    start = time.time()
    for name in args.problems.split(","):
        lr = GOOD[name]
        clean, guard = run(name, lr, snapshot_every=10)
        cells = []
        for fault, kwargs in FAULTS.values():
            try:
                held_out, guard = run(name, lr, fault, snapshot_every=10, **kwargs)
                if fault == "inf_batch" and not guard.events:
                    cells.append("n/a (integer inputs)")
                    continue
                events = "".join(e["event"][0] for e in guard.events)
                causes = sorted({e["cause"] for e in guard.events})
                cells.append(f"{held_out / clean:.3f} ({events}: {', '.join(causes)})")
            except DivergenceError as exc:
                cells.append(f"gave up ({exc.diagnosis.cause})")
        lines.append(f"| {name} | {lr:g} | {clean:.4g} | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    lines += ["", f"Regenerate: `nice -n 10 python benchmarks/guard_faults.py` "
              f"({time.time() - start:.0f} s here).", ""]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        out = ROOT / "docs" / "benchmarks" / "guard_faults.md"
        out.write_text(text)
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
