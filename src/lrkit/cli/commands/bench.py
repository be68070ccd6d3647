"""``lrkit bench``: methods of picking the rate side by side, against a cached grid."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from lrkit.cli._common import add_json_argument, print_json, show_progress

ORDER = 60

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
                        help="Markdown file to write (default bench.md; the PNG goes beside it); "
                        "'none' to skip")
    add_json_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lrkit.bench import get_methods, run_bench
    from lrkit.bench.table import markdown, text_table
    from lrkit.problems import names

    problems = names() if args.problem == ["all"] else list(args.problem)
    methods = get_methods(args.methods, auto_budget=args.auto_budget)
    result = run_bench(problems, methods, seeds=args.seeds, progress=show_progress(args))
    out = None if args.out.lower() == "none" else Path(args.out)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        png = out.with_suffix(".png")
        from lrkit._optional import pyplot
        from lrkit.bench.plot import plot_ratios

        ax = plot_ratios(result)
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
