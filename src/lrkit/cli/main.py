"""Entry point of the ``lrkit`` command: discovers the subcommands and turns bad input
into a one-line message with exit status 2."""

from __future__ import annotations

import argparse
import importlib
import logging
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
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    with warnings.catch_warnings():  # the hook is the command's, not the process's
        warnings.showwarning = _one_line_warning(args.command, warnings.showwarning)
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        return int(args.func(args) or 0)
    except (ValueError, TypeError, OverflowError) as exc:  # OverflowError: e.g. --lr-max 1e300
        print(f"lrkit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:
        print(f"lrkit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a path that cannot be written or read, a server that cannot be reached
        print(f"lrkit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except MemoryError as exc:  # sizes far beyond this machine, e.g. --steps 100000000000
        print(f"lrkit {args.command}: error: out of memory ({exc})", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"lrkit {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
