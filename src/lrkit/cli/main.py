"""Entry point of the ``lrkit`` command: discovers the subcommands and turns bad input
into a one-line message with exit status 2."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import pkgutil
import sys
import warnings
from collections.abc import Sequence
from typing import Any, NoReturn

import lrkit
from lrkit.cli import commands

DESCRIPTION = """\
lrkit handles the learning rate of gradient-based training end to end:
pick it (find, tune, auto), shape it (schedule), watch it (diagnose),
compare methods (bench) and understand it (lab)."""

EPILOG = """\
examples:
  lrkit auto --problem digits-mlp          train hands-off at a tuned rate
  lrkit find --problem digits-mlp          learning-rate range test with a plot
  lrkit schedule show "warmup(100, cosine(1000))" --steps 1000
run 'lrkit COMMAND --help' for the options of one command."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (no usage block), pointing at --help."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="lrkit",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"lrkit {lrkit.__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log lrkit's events to stderr")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = []
    for info in pkgutil.iter_modules(commands.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        if hasattr(module, "register"):
            modules.append(module)
    for module in sorted(modules, key=lambda m: getattr(m, "ORDER", 100)):
        module.register(subparsers)
    return parser


def _one_line_warning(command: str, fallback: Any):
    """A ``warnings.showwarning`` that prints lrkit's own warnings as ``lrkit COMMAND:
    warning: message``, once each (a user of the command needs the message, not the line of
    lrkit that raised it); other libraries' warnings go to ``fallback`` unchanged."""
    from lrkit.errors import LrkitWarning

    shown: set[str] = set()

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        if not issubclass(category, LrkitWarning):
            fallback(message, category, filename, lineno, file, line)
        elif str(message) not in shown:  # the same news from two layers is said once
            shown.add(str(message))
            print(f"lrkit {command}: warning: {message}", file=file or sys.stderr)

    return show


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if extras:  # said by the command's own parser, which points at its own --help
        _command_parser(parser, args).error(f"unrecognized arguments: {' '.join(extras)}")
    if args.command is None:
        parser.print_help()
        return 2
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    name = _command_name(args)
    from lrkit.cli._common import json_stdout

    json_only = json_stdout() if getattr(args, "json", False) else contextlib.nullcontext()
    try:
        with warnings.catch_warnings(), json_only:  # the hook is the command's, not the process's
            warnings.showwarning = _one_line_warning(name, warnings.showwarning)
            code = _run(args, name)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
    except BrokenPipeError:
        return _broken_pipe()
    return code


def _command_parser(parser: argparse.ArgumentParser,
                    args: argparse.Namespace) -> argparse.ArgumentParser:
    """The parser of the (sub)command that ``args`` chose: ``lrkit lab sweep``'s for that."""
    while True:
        sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
        chosen = None if sub is None else sub.choices.get(getattr(args, sub.dest, None))
        if chosen is None:
            return parser
        parser = chosen


def _command_name(args: argparse.Namespace) -> str:
    """``find``, or ``lab sweep`` for a command with actions: the prefix of its messages."""
    action = getattr(args, "action", None)
    return f"{args.command} {action}" if isinstance(action, str) else args.command


def _broken_pipe() -> int:
    """The reader of stdout went away (``lrkit ... | head``): stop quietly, as Unix tools do,
    with the status of a process killed by SIGPIPE. stdout is pointed at /dev/null so that
    the interpreter's last flush does not complain again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (a test's captured stdout)
        pass
    return 141


def _run(args: argparse.Namespace, name: str) -> int:
    from lrkit.cli._common import name_flags

    def fail(message: str) -> int:
        print(f"lrkit {name}: error: {name_flags(message, getattr(args, 'flag_names', None))}",
              file=sys.stderr)
        return 2

    try:
        return int(args.func(args) or 0)
    except (ValueError, TypeError, OverflowError) as exc:  # OverflowError: e.g. --lr-max 1e300
        return fail(str(exc))
    except ImportError as exc:
        return fail(str(exc))
    except BrokenPipeError:
        raise  # not an error of the command: main stops quietly
    except OSError as exc:  # a path that cannot be written or read, a server that cannot be reached
        return fail(str(exc))
    except MemoryError as exc:  # sizes far beyond this machine, e.g. --steps 100000000000
        return fail(f"out of memory ({exc})")
    except KeyboardInterrupt:
        print(f"lrkit {name}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
