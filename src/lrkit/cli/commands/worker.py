"""``lrkit worker``: join a study created by ``lrkit tune`` and run its trials, from any machine."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from lrkit.cli._common import add_json_argument, set_flag_names, show_progress
from lrkit.cli.commands.tune import FLAGS

ORDER = 31


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "worker",
        help="join a study created by 'lrkit tune' (e.g. over PostgreSQL) and run its trials",
        description="Join a study created by 'lrkit tune' and run trials until the study's "
        "trial count or budget is reached. Stays until no other worker's trial is running, "
        "so that trials of workers that die are failed and retried.",
        epilog="example:\n  lrkit worker --storage postgresql+psycopg2://user@db/lrkit --study char-lm-1",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--storage", required=True, metavar="PATH|URL",
                        help="the study's journal file or SQLAlchemy URL")
    parser.add_argument("--study", required=True, metavar="NAME", help="the study to join")
    said = parser.add_mutually_exclusive_group()  # JSON or nothing: not both
    said.add_argument("--quiet", action="store_true", help="print nothing (used by 'lrkit tune --workers')")
    add_json_argument(said)
    set_flag_names(parser, FLAGS)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lrkit._progress import progress_bar
    from lrkit.cli._common import print_json
    from lrkit.cli.commands.tune import check_names
    from lrkit.tuning.api import check_range_left, result_of
    from lrkit.tuning.problem_study import run_problem_worker
    from lrkit.tuning.runner import Settings
    from lrkit.tuning.storage import describe, is_url, open_storage

    check_names(args)
    if not is_url(args.storage) and args.storage != ":memory:" and not Path(args.storage).exists():
        # opening a journal file creates it: a mistyped path would leave an empty file behind
        raise ValueError(f"`study` must exist in the storage (create it with 'lrkit tune'), but "
                         f"got study={args.study!r}: there is no journal file {args.storage!r}")
    storage = open_storage(args.storage)
    with progress_bar(None, f"worker {args.study}", show_progress(args) and not args.quiet) as bar:
        study, ran = run_problem_worker(storage, args.study, on_trial=lambda t: bar.update(1))
    if args.quiet:
        return 0  # 'lrkit tune --workers' reports for its workers
    check_range_left(study, Settings.from_attrs(study.user_attrs).lr_range)
    result = result_of(study)
    if args.json:
        print_json(dict(result.summary(), ran_here=ran, storage=describe(args.storage)))
    else:
        trials = "trial" if ran == 1 else "trials"
        print(f"ran {ran} {trials} of study {args.study} in {describe(args.storage)}")
        if result.best_lr is not None:
            print(f"best lr so far = {result.best_lr:.4g}  (final loss {result.best_value:.4g})")
    return 0
