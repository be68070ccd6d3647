"""``lrkit lab``: the learning-rate trade-off, shown on problems with known answers.

``sweep`` (final loss against the rate, zones and theory), ``path`` (trajectories on a
contour plot), ``decay`` (constant against decayed rates on a noisy problem) and
``compare`` (adaptive methods against gradient descent at their best rates). Each prints a
table (or JSON) and writes a PNG.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

from lrkit.cli._common import (
    add_json_argument,
    add_output_argument,
    format_table,
    output_path,
    print_json,
    set_flag_names,
    show_progress,
)

ORDER = 70

OBJECTIVES = ("quadratic", "noisy-quadratic", "rosenbrock", "beale", "saddle", "logistic")
OPTIMIZERS = ("gd", "heavy-ball", "nesterov", "adagrad", "rmsprop", "adam", "adamw")

# far past any divergence; rates beyond it overflow the sweep plot's log axis
MAX_LR = 1e100

# the lab's parameter names, as the flags of every action (in error messages)
FLAGS = {"kappa": "--kappa", "dim": "--dim", "sigma": "--sigma", "lam": "--lam",
         "batch_size": "--batch-size", "seed": "--seed", "steps": "--steps",
         "momentum": "--momentum", "weight_decay": "--weight-decay"}

EPILOG = """\
examples:
  lrkit lab sweep --objective quadratic --kappa 100 --optimizer gd
  lrkit lab path --objective rosenbrock --optimizer adam --lr 1e-3 3e-2 3e-1
  lrkit lab decay --objective noisy-quadratic --schedule "cosine(1000)"
  lrkit lab compare --objective rosenbrock --optimizers gd heavy-ball adam
Losses are shown as the gap f(x) - f* to the known minimum."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "lab",
        help="see the learning-rate trade-off on problems with known answers",
        description="The learning-rate lab: numpy optimizers (matching torch.optim) on "
        "objectives whose minimum is known, with the theory of gradient descent on quadratics "
        "drawn beside the measurements.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True

    sweep = _add(actions, "sweep", "final loss against the rate, with zones and theory",
                 "Run the optimizer at every rate of a fine log grid; plot the final gap against "
                 "the rate (log-log) with the too-low / good / too-high zones shaded and, for "
                 "gradient descent on quadratics, the rates 1/L, 2/(L+mu) and 2/L drawn.",
                 "quadratic", "lab-sweep.png")
    _add_optimizer(sweep, "gd")
    sweep.add_argument("--steps", type=int, default=1000, help="steps per rate (default 1000)")
    sweep.add_argument("--num", type=int, default=200, help="rates on the grid (default 200)")
    sweep.add_argument("--lr-min", type=float, default=None, metavar="LR",
                       help="smallest rate (default: 1e-3/L for gd, heavy-ball and nesterov where L "
                            "is known, else 1e-4)")
    sweep.add_argument("--lr-max", type=float, default=None, metavar="LR",
                       help="largest rate (default: past the divergence threshold, else 10)")
    set_flag_names(sweep, dict(FLAGS, num="--num"))
    sweep.set_defaults(func=run_sweep)

    path = _add(actions, "path", "trajectories of several rates on a contour plot",
                "Run the optimizer at each rate from the same start; draw the paths on the "
                "objective's contours (2-D objectives) beside the loss curves.",
                "rosenbrock", "lab-path.png")
    _add_optimizer(path, "adam")
    path.add_argument("--lr", type=float, nargs="+", default=[1e-3, 3e-2, 3e-1], metavar="LR",
                      help="the rates (default: 1e-3 3e-2 3e-1)")
    path.add_argument("--steps", type=int, default=500, help="steps (default 500)")
    set_flag_names(path, dict(FLAGS, lrs="--lr"))
    path.set_defaults(func=run_path)

    decay = _add(actions, "decay", "the same rate with and without decay",
                 "On a noisy objective, compare a constant rate, a constant rate ten times "
                 "smaller and the first rate decayed by a schedule: the constant rate is fast "
                 "but stalls at a noise floor, the small one is precise but slow, the decayed "
                 "one gets both.", "noisy-quadratic", "lab-decay.png")
    _add_optimizer(decay, "gd")
    decay.add_argument("--lr", type=float, default=None,
                       help="the peak rate (default: 1/L where L is known)")
    decay.add_argument("--schedule", default=None, metavar="SPEC",
                       help="the decay as lrkit schedule text (default: \"cosine(STEPS)\")")
    decay.add_argument("--steps", type=int, default=1000, help="steps (default 1000)")
    decay.add_argument("--seeds", type=int, default=8,
                       help="noise seeds each curve averages (default 8)")
    set_flag_names(decay, dict(FLAGS, lr="--lr", seeds="--seeds", text="--schedule"))
    decay.set_defaults(func=run_decay)

    compare = _add(actions, "compare", "optimizers side by side, each at its best rate",
                   "Sweep each optimizer's rate on a log grid, then run each at its best rate "
                   "and plot the loss curves side by side.", "rosenbrock", "lab-compare.png")
    compare.add_argument("--optimizers", nargs="+", default=None, choices=OPTIMIZERS,
                         metavar="NAME",
                         help="which optimizers (default: gd heavy-ball nesterov adagrad "
                         "rmsprop adam)")
    compare.add_argument("--steps", type=int, default=300, help="steps per run (default 300)")
    compare.add_argument("--num", type=int, default=60,
                         help="rates on each optimizer's grid (default 60)")
    set_flag_names(compare, dict(FLAGS, num="--num"))
    compare.set_defaults(func=run_compare)


def _add(actions: Any, name: str, help_text: str, description: str, objective: str,
         out: str) -> argparse.ArgumentParser:
    parser = actions.add_parser(name, help=help_text, description=description, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objective", default=objective, choices=OBJECTIVES, metavar="NAME",
                        help=f"one of {', '.join(OBJECTIVES)} (default: {objective})")
    group = parser.add_argument_group("objective options (each applies to some objectives)")
    group.add_argument("--kappa", type=float, default=None,
                       help="condition number L/mu of the quadratics (default 100; 10 for noisy)")
    group.add_argument("--dim", type=int, default=None, help="dimension of the quadratics")
    group.add_argument("--sigma", type=float, default=None,
                       help="gradient noise of noisy-quadratic (default 0.1)")
    group.add_argument("--lam", type=float, default=None, help="L2 strength of logistic")
    group.add_argument("--batch-size", type=int, default=None,
                       help="minibatch size of logistic (default: full batch)")
    group.add_argument("--seed", type=int, default=None,
                       help="the random quadratic drawn (default 0)")
    add_json_argument(parser)
    add_output_argument(parser, out)
    return parser


def _add_optimizer(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument("--optimizer", default=default, choices=OPTIMIZERS, metavar="NAME",
                        help=f"one of {', '.join(OPTIMIZERS)} (default: {default})")
    parser.add_argument("--momentum", type=float, default=None,
                        help="momentum of heavy-ball, nesterov and rmsprop")
    parser.add_argument("--weight-decay", type=float, default=None,
                        help="weight decay (AdamW: decoupled)")


def _objective(args: argparse.Namespace) -> Any:
    from lrkit.lab import objectives

    names = {"kappa": "kappa", "dim": "dim", "sigma": "sigma", "lam": "lam",
             "batch_size": "batch_size", "seed": "seed"}
    options = {key: getattr(args, attr) for attr, key in names.items()
               if getattr(args, attr) is not None}
    accepted = objectives.options(args.objective)
    for key, value in options.items():
        if key not in accepted:
            flag = "--" + key.replace("_", "-")
            raise ValueError(f"`{flag}` does not apply to objective {args.objective!r} (its "
                             f"options: {', '.join(accepted) or 'none'}), but got "
                             f"{flag}={value!r}")
    return objectives.make(args.objective, **options)


def _hyperparameters(args: argparse.Namespace) -> dict[str, Any]:
    hyper = {}
    if args.momentum is not None:
        hyper["momentum"] = args.momentum
    if args.weight_decay is not None:
        hyper["weight_decay"] = args.weight_decay
    return hyper


def _save(draw: Any, result: Any, args: argparse.Namespace) -> str | None:
    """Draw ``result`` with ``draw`` and write it to ``--out``; nothing is drawn for
    ``--out none``."""
    path = output_path(args.out)
    if path is None:
        return None
    from lrkit.lab.plots import save

    save(draw(result), path)
    return str(path)


def _rate(flag: str, value: float) -> float:
    from lrkit._validation import check_positive

    value = check_positive(flag, value)
    if value > MAX_LR:
        raise ValueError(f"`{flag}` must be <= {MAX_LR:g} (far past any divergence), but got "
                         f"{flag}={value!r}")
    return value


def _finish(payload: dict[str, Any], text: str, plot: str | None, args: argparse.Namespace) -> int:
    if args.json:
        payload["plot"] = plot
        print_json(payload)
    else:
        print(text)
        if plot:
            print(f"\nplot: {plot}")
    return 0


def run_sweep(args: argparse.Namespace) -> int:
    import numpy as np

    from lrkit._validation import check_int
    from lrkit.lab import experiments
    from lrkit.lab.plots import plot_sweep

    objective = _objective(args)
    num = check_int("--num", args.num, minimum=2)
    lrs = None
    if args.lr_min is not None or args.lr_max is not None:
        default = experiments.default_lrs(objective, args.optimizer, num)
        low = default[0] if args.lr_min is None else _rate("--lr-min", args.lr_min)
        high = default[-1] if args.lr_max is None else _rate("--lr-max", args.lr_max)
        if low >= high:
            given = "" if args.lr_min is not None and args.lr_max is not None else (
                f" (the default {'--lr-max' if args.lr_max is None else '--lr-min'} for "
                f"{args.optimizer} on this objective)")
            raise ValueError(f"`--lr-min` must be below `--lr-max`, but got --lr-min "
                             f"{float(low):g} and --lr-max {float(high):g}{given}")
        lrs = np.geomspace(low, high, num)
    result = experiments.sweep(objective, args.optimizer, lrs=lrs, num=num, steps=args.steps,
                               progress=show_progress(args), **_hyperparameters(args))
    plot = _save(plot_sweep, result, args)

    rows: list[list[Any]] = []
    for label, rate in result.theory.items():
        rows.append([f"theory {label}", rate, result.theory_gaps.get(label), ""])
    if math.isnan(result.best_lr):
        rows.append(["best measured", "none: every rate diverged", None, "too high"])
    else:
        rows.append(["best measured", result.best_lr, result.best_gap, "good"])
        if result.max_stable_lr is not None:
            rows.append(["largest stable measured", result.max_stable_lr, None, ""])
        rows.append(["good zone", f"{result.good_range[0]:.4g} .. {result.good_range[1]:.4g}",
                     None, ""])
    summary = format_table(["rate", "lr", "final gap", "zone"], rows)
    picks = np.unique(np.round(np.linspace(0, len(result.lrs) - 1, 12)).astype(int))
    grid = format_table(["lr", "final gap", "diverged", "zone"],
                        [[float(result.lrs[i]), float(result.final_gaps[i]),
                          "yes" if result.diverged[i] else "no", result.zones[i]] for i in picks])
    text = (f"{result.optimizer} on {result.objective}: {len(result.lrs)} rates x "
            f"{result.steps} steps (start gap {result.initial_gap:.4g}, grid spacing "
            f"x{result.spacing:.4f})\n\n{summary}\n\n{grid}")
    if math.isnan(result.best_lr):
        text += "\n\nevery rate diverged: try a smaller --lr-min and --lr-max"
    return _finish(result.to_dict(), text, plot, args)


def run_path(args: argparse.Namespace) -> int:
    from lrkit.lab import experiments
    from lrkit.lab.plots import plot_path

    objective = _objective(args)
    lrs = [_rate("--lr", lr) for lr in args.lr]
    result = experiments.path(objective, args.optimizer, lrs, steps=args.steps,
                              **_hyperparameters(args))
    plot = _save(plot_path, result, args)
    payload = result.to_dict()
    rows = [[r["lr"], r["final_gap"], r["distance"], "yes" if r["diverged"] else "no"]
            for r in payload["runs"]]
    text = (f"{result.optimizer} on {objective.description}, {payload['steps']} steps from "
            f"{objective.x0.tolist() if objective.dim <= 4 else 'x0'}\n\n"
            + format_table(["lr", "final gap", "distance to minimum", "diverged"], rows))
    return _finish(payload, text, plot, args)


def run_decay(args: argparse.Namespace) -> int:
    from lrkit.lab import experiments
    from lrkit.lab.plots import plot_decay

    objective = _objective(args)
    schedule = None
    if args.schedule is not None:
        from lrkit.schedules import parse

        schedule = parse(args.schedule)
    lr = None if args.lr is None else _rate("--lr", args.lr)
    result = experiments.decay(objective, args.optimizer, lr, schedule, steps=args.steps,
                               seeds=args.seeds, **_hyperparameters(args))
    plot = _save(plot_decay, result, args)
    rows = [[label, float(result.rates[label][0]), float(result.rates[label][-1]), final,
             _diverged(result.diverged[label], result.seeds)]
            for label, final in result.finals.items()]
    if result.noise_floor is not None:
        rows.append(["theory: floor of constant lr", result.lr, result.lr, result.noise_floor,
                     ""])
    runs = f"mean of {result.seeds} seeds" if result.seeds > 1 else "one run each"
    text = (f"{result.optimizer} on {result.objective}, decay {result.schedule}, {runs}\n\n"
            + format_table(["run", "first lr", "last lr", "final gap", "diverged"], rows))
    if any(result.diverged.values()):
        text += ("\n\ndiverged: a run that blew up (gap inf) or ended farther from the minimum "
                 "than it started; try a smaller --lr")
    return _finish(result.to_dict(), text, plot, args)


def _diverged(count: int, seeds: int) -> str:
    if count == 0:
        return "no"
    return "yes" if count == seeds else f"{count} of {seeds} seeds"


def run_compare(args: argparse.Namespace) -> int:
    from lrkit.lab import experiments
    from lrkit.lab.plots import plot_compare

    objective = _objective(args)
    names = args.optimizers or list(experiments.DEFAULT_COMPARE)
    result = experiments.compare(objective, names, steps=args.steps, num=args.num,
                                 progress=show_progress(args))
    plot = _save(plot_compare, result, args)
    entries = sorted(result.entries, key=lambda e: e.final_gap)
    rows = [[e.optimizer, e.best_lr, e.final_gap,
             f"{e.sweep.good_range[0]:.3g} .. {e.sweep.good_range[1]:.3g}"] for e in entries]
    text = (f"on {result.objective}, {result.steps} steps, each at the best of "
            f"{args.num} rates\n\n"
            + format_table(["optimizer", "best lr", "final gap", "good zone"], rows))
    return _finish(result.to_dict(), text, plot, args)
