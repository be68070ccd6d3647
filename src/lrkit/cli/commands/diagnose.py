"""``lrkit diagnose LOG``: replay a loss log through the Monitor, print the verdicts over
time and write a plot."""

from __future__ import annotations

import argparse

from lrkit.cli._common import (
    add_json_argument,
    add_output_argument,
    format_table,
    output_path,
    print_json,
    set_flag_names,
)

ORDER = 50

_EXAMPLES = """\
examples:
  lrkit diagnose examples/train_log.csv        table of verdict changes + lrkit-diagnose.png
  lrkit diagnose events.jsonl --json --out none
  lrkit diagnose log.csv --window 100          a longer window for a noisy loss
  lrkit diagnose metrics.csv --loss-column train_loss   a Lightning CSVLogger log

The log is CSV with a header or JSON lines, with a 'loss' column and optionally 'step',
'grad_norm' and 'lr' (with 'lr', a decaying schedule is not mistaken for a plateau). A JSON
null loss counts as NaN (a divergence); a row without a loss (an empty CSV cell, a JSON object
without the key) is skipped."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "diagnose",
        help="read a loss log and say when the rate was ok, too high, too low or diverged",
        description="Replays a training log through lrkit's Monitor and prints where its "
        "verdict changed (ok, too_high, too_low, plateau, diverged) with the evidence and "
        "the recommended rate factor, then writes a plot of the loss with the verdicts "
        "shaded. Exit status 0 whatever the verdict; read it from the output or --json.",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("log", metavar="LOG", help="CSV or JSONL file with step and loss columns")
    parser.add_argument("--loss-column", default="loss", metavar="NAME",
                        help="the column holding the training loss (default: loss; e.g. "
                        "train_loss for a Lightning CSVLogger's metrics.csv)")
    parser.add_argument("--window", type=int, default=60, metavar="N",
                        help="steps in the monitor's window (default: 60)")
    parser.add_argument("--warmup", type=int, default=30, metavar="N",
                        help="steps before trend verdicts are given (default: 30)")
    add_output_argument(parser, "lrkit-diagnose.png")
    add_json_argument(parser)
    set_flag_names(parser, {"window": "--window", "warmup": "--warmup", "log": "LOG"})
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lrkit.monitor import Monitor, diagnose, read_log

    log = read_log(args.log, loss_column=args.loss_column)
    monitor = Monitor(window=args.window, warmup=args.warmup)
    diagnosis = diagnose(log["loss"], steps=log["step"], grad_norms=log.get("grad_norm"),
                         lrs=log.get("lr"), monitor=monitor)
    plot = output_path(args.out)
    if plot is not None:
        from lrkit._optional import pyplot
        from lrkit.monitor.plot import plot_diagnosis

        plt = pyplot()
        fig, ax = plt.subplots(figsize=(8, 4))
        plot_diagnosis(diagnosis, ax, title=f"{args.log}: {diagnosis.status}")
        fig.tight_layout()
        fig.savefig(plot, dpi=120)
        plt.close(fig)
    if args.json:
        payload = diagnosis.to_dict()
        payload.update(log=str(args.log), steps=int(len(diagnosis.statuses)),
                       plot=None if plot is None else str(plot))
        print_json(payload)
        return 0
    rows = [[c.step, c.status, c.cause, f"x{c.factor:g}", c.detail] for c in diagnosis.changes]
    print(format_table(["step", "verdict", "cause", "factor", "evidence"], rows))
    counts = ", ".join(f"{status} {n}" for status, n in diagnosis.counts.items() if n)
    print(f"\noverall: {diagnosis.status} (recommended rate factor x{diagnosis.factor:g}); "
          f"steps: {counts}")
    if plot is not None:
        print(f"plot: {plot}")
    return 0
