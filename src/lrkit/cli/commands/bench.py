"""``lrkit bench``: methods of picking the rate side by side, against a cached grid."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from lrkit.cli._common import (
    add_json_argument,
    output_path,
    plot_path_type,
    print_json,
    set_flag_names,
    show_progress,
)

ORDER = 60

# bars of the PNG stop at this ratio to the grid's best; a capped bar is marked with its value
CAP = 3.0

EPILOG = """\
examples:
  lrkit bench --problem digits-mlp --methods auto default
  lrkit bench --problem all --out docs/benchmarks/auto.md      # the full table (slow)
  lrkit bench --problem digits-cnn --methods auto tune --auto-budget 2
methods: auto, finder, tune, default, and with the 'bench' extra prodigy, dadapt, dog, ldog,
schedulefree. The reference grid (4 rates per decade, every seed) is cached under
.lrkit-cache/grid (or $LRKIT_CACHE), so a second run only pays for the methods."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="compare ways of picking the rate: held-out loss ratio to a grid's best, cost in runs",
        description="Run methods side by side on problems; print the held-out loss ratio to the "
        "best of a cached 4-per-decade grid and the cost in runs, each a mean over seeds; "
        "write the table as Markdown and a bar chart as PNG.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--problem", nargs="+", required=True, metavar="NAME|FILE.py:FUNC|all",
                        help="problems to run ('all' for every built-in one)")
    parser.add_argument("--methods", nargs="+", default=None, metavar="METHOD",
                        help="methods to compare (default: every available one)")
    parser.add_argument("--seeds", type=int, default=4, help="seeds per figure, at least 4 (default 4)")
    parser.add_argument("--auto-budget", type=float, default=1.5, metavar="RUNS",
                        help="the budget lrkit auto gets, in runs (default 1.5)")
    parser.add_argument("--out", default="bench.md", metavar="PATH.md",
                        type=plot_path_type("bench.md", frozenset({"md", "markdown"}), ".md"),
                        help="Markdown file to write (default bench.md; in a directory: bench.md "
                        "inside it; the PNG goes beside it); 'none' to skip")
    add_json_argument(parser)
    set_flag_names(parser, {"problem": "--problem", "problems": "--problem",
                            "methods": "--methods", "seeds": "--seeds",
                            "auto_budget": "--auto-budget"})
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lrkit.bench import get_methods, run_bench
    from lrkit.bench.table import markdown, text_table
    from lrkit.problems import names

    if "all" in args.problem and len(args.problem) > 1:
        raise ValueError(f"`--problem` must be 'all' alone or a list of problems, but got "
                         f"{' '.join(args.problem)}")
    problems = names() if args.problem == ["all"] else list(args.problem)
    repeated = sorted({p for p in problems if problems.count(p) > 1})
    if repeated:
        raise ValueError(f"`--problem` must name each problem once, but got "
                         f"{' '.join(args.problem)} ({', '.join(repeated)} more than once)")
    methods = get_methods(args.methods, auto_budget=args.auto_budget)
    result = run_bench(problems, methods, seeds=args.seeds, progress=show_progress(args))
    out: Path | None = output_path(args.out)
    if out is not None:
        png = out.with_suffix(".png")
        from lrkit._optional import pyplot
        from lrkit.bench.plot import plot_ratios

        ax = plot_ratios(result, cap=CAP)
        _mark_capped(ax, result, CAP)
        ax.figure.savefig(png, dpi=110)
        pyplot().close(ax.figure)
        command = "lrkit " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else ""
        out.write_text(markdown(result, command=command, plot=png.name) + "\n")
    if args.json:
        payload = result.to_dict()
        payload["markdown"] = str(out) if out else None
        print_json(payload)
        return 0
    print(text_table(result))
    if out is not None:
        print(f"\nwrote {out} and {out.with_suffix('.png')}")
    return 0


def _mark_capped(ax: Any, result: Any, cap: float) -> None:
    """Write the true ratio (or "diverged") above each bar that ``plot_ratios`` stopped at
    ``cap``, with an arrow: without it a ratio of 50 reads as one of 3."""
    import math

    for method, bars in zip(result.methods, ax.containers, strict=False):
        for problem, bar in zip(result.problems, bars, strict=False):
            ratio = result.cell(problem, method).ratio
            if math.isfinite(ratio) and ratio <= cap:
                continue
            text = (f"{ratio:.3g}" if math.isfinite(ratio)
                    else "diverged" if ratio > 0 else "n/a")  # inf: a non-finite loss
            x = bar.get_x() + bar.get_width() / 2
            # rotated a quarter turn, the arrow points up: the bar goes on past the cap
            ax.annotate(f"\u2192 {text}", (x, cap), xytext=(0, 2), textcoords="offset points",
                        ha="center", va="bottom", fontsize=7, rotation=90)
    ax.set_ylim(top=max(ax.get_ylim()[1], cap * 2.2))  # room for the marks
