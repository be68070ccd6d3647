"""``lrkit auto``: train a problem hands-off at a searched rate, within 1.5 runs of compute."""

from __future__ import annotations

import argparse
from typing import Any

from lrkit.cli._common import (
    add_json_argument,
    add_output_argument,
    add_problem_argument,
    output_path,
    print_json,
    set_flag_names,
    show_progress,
)

ORDER = 10

EPILOG = """\
examples:
  lrkit auto --problem digits-mlp
  lrkit auto --problem examples/my_problem.py:make_problem --budget 1.5 --json
  lrkit auto --problem char-lm --schedule "warmup(10, linear(1.0, 0.0, 190))"
Every call of the loss function counts against the budget (search, evaluation and the
final run alike); the search never spends more than BUDGET x STEPS calls in all."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "auto",
        help="train hands-off at a searched rate, for at most 1.5x the cost of one run",
        description="Find the stability edge with a short range test, race peak rates below "
        "it on the schedule compressed to a short horizon (scored on held-back batches), then "
        "train once at the winner. Reports the chosen rate, the cost in runs, the held-out "
        "loss and a plot of the search and of the final run's rate and loss.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_problem_argument(parser)
    parser.add_argument("--budget", type=float, default=1.5, metavar="RUNS",
                        help="the most compute to spend, in runs of STEPS steps (default 1.5)")
    parser.add_argument("--seed", type=int, default=0, help="model init and data order (default 0)")
    parser.add_argument("--steps", type=int, default=None,
                        help="steps of the final run (default: the problem's)")
    parser.add_argument("--schedule", default=None, metavar="SPEC",
                        help="schedule text (default: 5%% linear warmup then cosine to 0)")
    add_json_argument(parser)
    add_output_argument(parser, "auto.png")
    set_flag_names(parser, {"problem": "--problem", "budget": "--budget", "steps": "--steps",
                            "seed": "--seed", "schedule": "--schedule", "text": "--schedule"})
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from lrkit._validation import check_seed
    from lrkit.problems import get
    from lrkit.problems.train import resolve_schedule
    from lrkit.torch.auto import autotrain

    check_seed("seed", args.seed)
    problem = get(args.problem)
    steps = problem.steps if args.steps is None else args.steps
    schedule = None if args.schedule is None else resolve_schedule(args.schedule, steps)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(args.seed)
        model = problem.make_model(args.seed)
        result = autotrain(model, problem.make_optimizer, problem.loss_fn,
                           problem.batches(args.seed), steps, schedule=schedule,
                           budget=args.budget, seed=args.seed, progress=show_progress(args))
        held_out = problem.held_out_loss(model)
    path = output_path(args.out)
    if path is not None:
        from lrkit.auto.plot import plot_auto

        figure = plot_auto(result, title=f"lrkit auto on {problem.name}")
        figure.savefig(path, dpi=110)
        import matplotlib.pyplot as plt

        plt.close(figure)
    if args.json:
        payload = {"problem": problem.name, "seed": args.seed, "held_out": held_out,
                   "plot": str(path) if path else None}
        payload.update(result.to_dict())
        print_json(payload)
        return 0
    print(f"problem        {problem.name} ({problem.optimizer}, {steps} steps, seed {args.seed})")
    print(f"chosen rate    {result.lr:.4g}")
    print(f"cost           {result.runs:.2f} runs ({result.steps_spent} loss calls of "
          f"{result.budget_steps} allowed: " + ", ".join(f"{k} {v}" for k, v in result.by_phase.items())
          + ")")
    print(f"held-out loss  {held_out:.4g}")
    print("decisions:")
    for decision in result.history:
        print(f"  [{decision.phase}] {decision.message}")
    if path is not None:
        print(f"plot           {path}")
    return 0
