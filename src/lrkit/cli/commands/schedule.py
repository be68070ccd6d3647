"""``lrkit schedule``: preview a schedule (table, JSON, PNG) and list the schedule families."""

from __future__ import annotations

import argparse
import textwrap

from lrkit.cli._common import (
    add_json_argument,
    format_table,
    plot_path_type,
    print_json,
    set_flag_names,
)

ORDER = 40

# up to this many steps, min, max and the plot read every step; past it, SAMPLED evenly
# spaced steps (and the table's), so a horizon of 10**11 steps costs what 10**5 do
EXACT_STEPS = 100_000
SAMPLED = 10_001
# past 2**53 a step is no longer an exact float64
MAX_STEPS = 2**53

_SHOW_EXAMPLES = """\
examples:
  lrkit schedule show "warmup(100, cosine(1000))"
  lrkit schedule show "wsd(10000, 500, 2000, decay='1-sqrt')" --out wsd.png
  lrkit schedule show "cosine_restarts(100, mult=2)" --steps 700 --points 8 --json
  lrkit schedule show "one_cycle(1000)" --base-lr 0.1"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "schedule",
        help="preview a learning-rate schedule or list the schedule families",
        description="Preview a schedule as a table of multipliers at sampled steps (or JSON) "
        "and a PNG plot, or list every schedule family. A schedule is written as the Python "
        "call that builds it, e.g. \"warmup(100, cosine(10000, final=0.1))\".",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True

    show = actions.add_parser(
        "show",
        help="a table of the schedule at sampled steps, optionally a PNG plot",
        description="Evaluate SPEC at sampled steps and print a table (or JSON with --json). "
        "The value at step k is the multiplier of the base rate for update k.",
        epilog=_SHOW_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    show.add_argument("spec", metavar="SPEC", help="the schedule, e.g. \"warmup(100, cosine(1000))\"")
    show.add_argument(
        "--steps",
        type=int,
        default=None,
        metavar="N",
        help="show steps 0..N-1 (default: up to the schedule's horizon; required for "
        "schedules without one, such as step or cyclic)",
    )
    show.add_argument("--points", type=int, default=11, metavar="K",
                      help="rows of the table, evenly spaced steps (default: 11)")
    show.add_argument("--base-lr", type=float, default=None, metavar="LR",
                      help="also show the rate base_lr * multiplier")
    show.add_argument("--out", "--plot", dest="plot", default=None, metavar="PATH.png",
                      type=plot_path_type("schedule.png"),
                      help="write a plot of the N steps (in a directory: schedule.png inside "
                      f"it; past {EXACT_STEPS} steps, {SAMPLED} evenly spaced ones); --plot is "
                      "the same option")
    show.add_argument("--log", action="store_true", help="log scale on the plot's y axis")
    add_json_argument(show)
    set_flag_names(show, {"text": "SPEC"})
    show.set_defaults(func=run_show)

    listing = actions.add_parser(
        "list",
        help="every schedule family with its signature and one line",
        description="Every schedule family lrkit knows, with its signature and a summary.",
    )
    add_json_argument(listing)
    listing.set_defaults(func=run_list)


def run_list(args: argparse.Namespace) -> int:
    from lrkit.schedules import families

    rows = families()
    if args.json:
        print_json([row._asdict() for row in rows])
        return 0
    # a signature per line with its summary wrapped under it: some signatures are too long
    # for a two-column table to fit a terminal
    for row in rows:
        hang = " " * (row.signature.index("(") + 1)
        print(textwrap.fill(row.signature, width=88, subsequent_indent=hang,
                            break_on_hyphens=False))
        print(textwrap.fill(_plain(row.summary), width=88, initial_indent="    ",
                            subsequent_indent="    "))
    return 0


def run_show(args: argparse.Namespace) -> int:
    import numpy as np

    from lrkit._validation import check_int, check_positive
    from lrkit.schedules import parse

    schedule = parse(args.spec)
    if args.steps is None:
        if schedule.horizon is None:
            raise ValueError(
                f"`--steps` must be given for {schedule}, which has no horizon, but got steps=None"
            )
        total = schedule.horizon + 1
    else:
        total = check_int("--steps", args.steps, minimum=1)
    points = check_int("--points", args.points, minimum=1)
    base_lr = None if args.base_lr is None else check_positive("--base-lr", args.base_lr)

    if total > MAX_STEPS:
        raise ValueError(f"`--steps` must be at most 2**53, but got {total} steps (0..{total - 1})")

    steps = np.unique(np.round(np.linspace(0, total - 1, min(points, total))).astype(np.int64))
    values = schedule(steps)
    # min and max over every step while that is cheap, else over evenly spaced ones
    sampled = total > EXACT_STEPS
    every = _steps(total, steps)
    extremes = np.concatenate([values, schedule(every.astype(np.float64))])
    low, high = float(extremes.min()), float(extremes.max())
    plot_path = None
    if args.plot:
        plot_path = _write_plot(schedule, total, base_lr, args.plot, args.log)
    if args.json:
        payload = {
            "schedule": str(schedule),
            "dict": schedule.to_dict(),
            "total_steps": total,
            "horizon": schedule.horizon,
            "steps": steps.tolist(),
            "multipliers": values.tolist(),
            "min": low,
            "max": high,
            "sampled_steps": int(every.size) if sampled else None,
        }
        if base_lr is not None:
            payload["lrs"] = (base_lr * values).tolist()
        if plot_path is not None:
            payload["plot"] = plot_path
        print_json(payload)
        return 0

    headers = ["step", "multiplier"] + (["lr"] if base_lr is not None else [])
    rows = [[int(t), float(v)] + ([base_lr * float(v)] if base_lr is not None else [])
            for t, v in zip(steps, values, strict=True)]
    horizon = "none" if schedule.horizon is None else str(schedule.horizon)
    over = f" over {every.size} sampled steps" if sampled else ""
    print(f"{schedule}   (steps 0..{total - 1}, horizon {horizon}, "
          f"min {low:.4g}, max {high:.4g}{over})")
    print(format_table(headers, rows))
    if plot_path is not None:
        print(f"plot written to {plot_path}")
    return 0


def _steps(total: int, shown: object) -> object:
    """Every step below ``total``, or past ``EXACT_STEPS`` of them ``SAMPLED`` evenly spaced
    ones and those of the table (``shown``), as int64."""
    import numpy as np

    if total <= EXACT_STEPS:
        return np.arange(total, dtype=np.int64)
    spaced = np.round(np.linspace(0, total - 1, SAMPLED)).astype(np.int64)
    return np.union1d(spaced, np.asarray(shown, dtype=np.int64))


def _write_plot(schedule: object, total: int, base_lr: float | None, path: str,
                log: bool) -> str | None:
    """The plot of the schedule over ``total`` steps (``SAMPLED`` of them past
    ``EXACT_STEPS``), written to ``path``."""
    from lrkit._optional import pyplot
    from lrkit.cli._common import output_path
    from lrkit.schedules.plotting import plot_schedule

    target = output_path(path)
    if target is None:
        return None
    ax = plot_schedule(schedule, total, base_lr=base_lr, log=log,  # type: ignore[arg-type]
                       max_points=SAMPLED if total > EXACT_STEPS else None)
    ax.set_title(str(schedule), fontsize=9)
    ax.figure.savefig(target, dpi=120)
    pyplot().close(ax.figure)
    return str(target)


def _plain(text: str) -> str:
    return text.replace("``", "")
