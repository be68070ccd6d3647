"""``lrkit find``: the learning-rate range test on a built-in or user problem."""

from __future__ import annotations

import argparse

from lrkit.cli._common import (
    add_json_argument,
    add_output_argument,
    add_problem_argument,
    format_table,
    name_flags,
    output_path,
    print_json,
    set_flag_names,
    show_progress,
)

ORDER = 20

# the range test's parameter names, as this command's flags (in errors and notes)
FLAGS = {"problem": "--problem", "start": "--start", "end": "--end", "num": "--num",
         "seed": "--seed", "accumulation_steps": "--accumulation-steps",
         "max_grad_norm": "--max-grad-norm"}

_EXAMPLES = """\
examples:
  lrkit find --problem digits-mlp                  suggestions + lrkit-find.png
  lrkit find --problem examples/my_problem.py:make_problem --num 60 --out find.png
  lrkit find --problem char-lm --json --out none   machine-readable, no plot
  lrkit find --list-problems"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "find",
        help="learning-rate range test: suggestions with a band, and a plot",
        description="Raise the learning rate every step from --start to --end, watch the "
        "loss and stop when it blows up. Prints the divergence edge and every rule's "
        "suggestion (lrkit's default first, with its band) and writes a plot. The model, "
        "optimizer and random state are restored afterwards.",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_problem_argument(parser, default="digits-mlp")
    parser.add_argument("--list-problems", action="store_true",
                        help="list the built-in problems and exit")
    parser.add_argument("--start", type=float, default=1e-7, metavar="LR",
                        help="first rate of the sweep (default: 1e-7)")
    parser.add_argument("--end", type=float, default=10.0, metavar="LR",
                        help="last rate of the sweep (default: 10)")
    parser.add_argument("--num", type=int, default=100, metavar="N",
                        help="number of rates, one update each (default: 100)")
    parser.add_argument("--seed", type=int, default=0,
                        help="model initialisation and data order (default: 0)")
    parser.add_argument("--accumulation-steps", type=int, default=1, metavar="K",
                        help="micro-batches per optimizer step (default: 1)")
    parser.add_argument("--max-grad-norm", type=float, default=None, metavar="NORM",
                        help="clip gradients to this total norm before each step")
    parser.add_argument("--keep-going", action="store_true",
                        help="do not stop when the loss blows up (a NaN still stops)")
    add_output_argument(parser, "lrkit-find.png")
    add_json_argument(parser)
    set_flag_names(parser, FLAGS)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lrkit import problems

    if args.list_problems:
        return _list_problems(args)

    import torch

    from lrkit._validation import check_seed
    from lrkit.torch.finder import find_lr

    check_seed("seed", args.seed)
    problem = problems.get(args.problem)
    torch.manual_seed(args.seed)
    model = problem.make_model(args.seed)
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"`problem` {problem.name!r}: make_model must return a torch.nn.Module, "
                        f"but got {type(model).__name__}")
    optimizer = problem.make_optimizer(model.parameters(), problem.default_lr)
    result = find_lr(
        model, optimizer, problem.loss_fn, _Batches(problem, args.seed),
        start=args.start, end=args.end, num=args.num,
        accumulation_steps=args.accumulation_steps, max_grad_norm=args.max_grad_norm,
        stop_on_divergence=not args.keep_going, progress=show_progress(args),
    )
    plot = output_path(args.out)
    if plot is not None:
        from lrkit._optional import pyplot

        plt = pyplot()
        ax = result.plot(title=f"lrkit find: {problem.name} ({problem.optimizer})")
        ax.figure.savefig(plot, dpi=120)
        plt.close(ax.figure)
    if args.json:
        payload = {"problem": problem.name, "optimizer": problem.optimizer,
                   "plot": str(plot) if plot is not None else None}
        payload.update(result.to_dict())
        print_json(payload)
        return 0
    print(_report(problem.name, problem.optimizer, result, plot))
    return 0


class _Batches:
    """A re-iterable view of a problem's seeded, endless batches."""

    def __init__(self, problem: object, seed: int) -> None:
        self.problem = problem
        self.seed = seed

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.problem.batches(self.seed))  # type: ignore[attr-defined]

    def __repr__(self) -> str:  # errors about the data name it
        return f"<batches of problem {self.problem.name!r}, seed {self.seed}>"  # type: ignore[attr-defined]


def _report(name: str, optimizer: str, result: object, plot: object) -> str:
    r = result  # RangeTestResult
    note = name_flags(r.note, FLAGS)  # type: ignore[attr-defined]
    lines = [f"lrkit find: {name} ({optimizer}), {r.steps} steps, stopped: {r.stop_reason}"]  # type: ignore[attr-defined]
    if r.suggestion is not None:  # type: ignore[attr-defined]
        low, high = r.band  # type: ignore[attr-defined]
        lines.append(f"suggested lr: {r.suggestion:.3g}   (band {low:.3g} .. {high:.3g})")  # type: ignore[attr-defined]
        if note:
            lines.append(f"note: {note}")
    else:
        lines.append(f"no reliable suggestion: {note}")
    edge = r.divergence_lr  # type: ignore[attr-defined]
    lines.append(f"divergence edge: {'none within the sweep' if edge is None else f'{edge:.3g}'}")
    lines.append("")
    rows = [[rule, lr] for rule, lr in r.suggestions.items()]  # type: ignore[attr-defined]
    lines.append(format_table(["rule", "lr"], rows))
    if plot is not None:
        lines.append("")
        lines.append(f"plot: {plot}")
    return "\n".join(lines)


def _list_problems(args: argparse.Namespace) -> int:
    from lrkit import problems

    rows = []
    for name in problems.names():
        problem = problems.get(name)
        rows.append([name, problem.optimizer, problem.steps, problem.default_lr, problem.description])
    if args.json:
        print_json([dict(zip(["name", "optimizer", "steps", "default_lr", "description"], row,
                             strict=True)) for row in rows])
        return 0
    print(format_table(["problem", "optimizer", "steps", "default lr", "description"], rows))
    return 0
