"""Draw one plot per schedule family into docs/img/schedules/ (used by docs/schedules.md).

    python docs/make_schedule_plots.py

The examples are the ones the docs' table shows; every curve is the schedule's own values,
evaluated on all steps with ``lrkit.schedules.plotting.plot_schedule``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lrkit._optional import pyplot
from lrkit.schedules import ReduceOnPlateau, parse
from lrkit.schedules.plotting import plot_schedule

OUT = Path(__file__).resolve().parent / "img" / "schedules"

# family -> (the example, steps drawn)
EXAMPLES: dict[str, tuple[str, int]] = {
    "constant": ("constant()", 1000),
    "linear": ("linear(0.1, 1, 800)", 1000),
    "step": ("step(200, 0.5)", 1000),
    "multistep": ("multistep([500, 750], 0.1)", 1000),
    "exponential": ("exponential(0.997)", 1000),
    "inverse_time": ("inverse_time(0.01)", 1000),
    "polynomial": ("polynomial(1000, power=2, final=0.05)", 1000),
    "cosine": ("cosine(1000, final=0.1)", 1000),
    "cosine_restarts": ("cosine_restarts(100, mult=2, decay=0.7, final=0.05)", 1500),
    "cyclic": ("cyclic(200, 0.1, mode='triangular2')", 1000),
    "one_cycle": ("one_cycle(1000)", 1000),
    "inverse_sqrt": ("inverse_sqrt(100)", 1000),
    "wsd": ("wsd(1000, 100, 200, decay='1-sqrt')", 1000),
    "warmup": ("warmup(100, cosine(900, final=0.1))", 1000),
    "join": ("join([linear(0.1, 1, 100), constant(), cosine(500, final=0.05)], [100, 500])", 1000),
}


def _save(fig: object, path: Path) -> None:
    fig.savefig(path, dpi=100, metadata={"Software": None})  # type: ignore[attr-defined]


def draw_families(plt: object) -> list[Path]:
    written = []
    for name, (text, steps) in EXAMPLES.items():
        schedule = parse(text)
        assert schedule.name == name, (name, text)
        ax = plot_schedule(schedule, steps)
        ax.figure.set_size_inches(4.8, 2.4)
        ax.set_title(text, fontsize=8)
        ax.get_legend() and ax.get_legend().remove()
        path = OUT / f"{name}.png"
        _save(ax.figure, path)
        plt.close(ax.figure)  # type: ignore[attr-defined]
        written.append(path)
    return written


def _stalling_loss(t: int) -> float:
    """Improves until step 300, stalls, improves again from 500 to 650, stalls again."""
    if t < 300:
        return 1.0 / (1 + t)
    return 1.0 / 301 - 1e-4 * (min(max(t, 500), 650) - 500)


def draw_plateau(plt: object) -> Path:
    """warmup + cosine times a reduce-on-plateau scale fed by a loss that stalls twice."""
    schedule = parse("warmup(50, cosine(950, final=0.05))")
    plateau = ReduceOnPlateau(factor=0.5, patience=2)
    steps = np.arange(1000)
    scale = np.ones(1000)
    current = 1.0
    for t in steps:
        if t % 50 == 49:  # an evaluation every 50 steps
            current = plateau.report(_stalling_loss(int(t)))
        scale[t] = current
    fig, ax = plt.subplots(figsize=(4.8, 2.4), layout="constrained")  # type: ignore[attr-defined]
    ax.plot(steps, schedule(steps), lw=1.0, ls="--", label="schedule alone")
    ax.plot(steps, schedule(steps) * scale, lw=1.6, label="schedule x plateau scale")
    ax.set_xlabel("step")
    ax.set_ylabel("multiplier")
    ax.set_ylim(bottom=0.0)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title("ScheduleLR(opt, warmup(50, cosine(950, final=0.05)), plateau=...)", fontsize=8)
    path = OUT / "plateau.png"
    _save(fig, path)
    plt.close(fig)  # type: ignore[attr-defined]
    return path


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    plt = pyplot()
    written = draw_families(plt) + [draw_plateau(plt)]
    print(f"wrote {len(written)} plots to {OUT}")


if __name__ == "__main__":
    main()
