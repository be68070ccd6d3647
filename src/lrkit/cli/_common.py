"""Helpers shared by the subcommands: common options, JSON output, progress, output files."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO


def add_problem_argument(parser: argparse.ArgumentParser, *, default: str | None = None) -> None:
    parser.add_argument(
        "--problem",
        default=default,
        required=default is None,
        metavar="NAME|FILE.py:FUNC",
        help="a built-in problem (see 'lrkit find --list-problems') or path/to/file.py:function "
        "returning an lrkit.problems.Problem" + (f" (default: {default})" if default else ""),
    )


def add_json_argument(parser: argparse.ArgumentParser | argparse._ActionsContainer) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")


# the formats matplotlib's savefig writes without extra backends (FigureCanvasBase's
# filetypes), less pgf, which needs a TeX installation for any text and would fail only
# after the work is done; a constant, so that parsing --out does not import matplotlib
PLOT_FORMATS = frozenset({"avif", "eps", "gif", "jpeg", "jpg", "pdf", "png", "ps", "raw",
                          "rgba", "svg", "svgz", "tif", "tiff", "webp"})


def plot_path_type(default_name: str, formats: frozenset[str] = PLOT_FORMATS,
                   add_suffix: str = ".png") -> Callable[[str], str]:
    """An argparse ``type`` for a file path option, checked when the command line is read
    (before any work): ``none`` stays ``none`` (no file); an existing directory, or a path
    ending in a separator, gets ``default_name`` inside it; a path without an extension gets
    ``add_suffix`` (what matplotlib would add anyway, so the path printed is the one
    written); any other extension must be one of ``formats``."""

    def convert(value: str) -> str:
        if value.lower() == "none":
            return "none"
        if not value.strip():
            raise argparse.ArgumentTypeError(f"must be a file path or 'none', but got {value!r}")
        path = Path(value)
        if path.is_dir() or value.endswith((os.sep, "/")):
            path = path / default_name
        elif not path.suffix:
            path = path.with_name(path.name + add_suffix)
        suffix = path.suffix.lower().lstrip(".")
        if suffix not in formats:
            raise argparse.ArgumentTypeError(
                f"unsupported format {suffix!r}: the path must end in one of "
                f"{', '.join('.' + f for f in sorted(formats))} (or be 'none'), but got {value!r}")
        _check_writable(path, value)
        return str(path)

    convert.__name__ = "path"  # argparse names the type in its own messages
    return convert


def _check_writable(path: Path, value: str) -> None:
    """Raise ``ArgumentTypeError`` unless a file can be created at ``path`` (its missing
    folders are made later): found when the command line is read, not after the work."""
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"{str(folder)!r} is a file, not a folder, but got {value!r}")
    try:  # a real write: permission bits do not tell what root may not write (/proc, read-only mounts)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise argparse.ArgumentTypeError(
            f"cannot write in {str(folder)!r} ({exc.strerror or exc}), but got {value!r}") from None


def add_output_argument(parser: argparse.ArgumentParser, default_name: str) -> None:
    parser.add_argument(
        "--out",
        default=default_name,
        type=plot_path_type(default_name),
        metavar="PATH",
        help=f"where to write the plot (default: {default_name}; in a directory: that name "
        "inside it; no extension: .png); 'none' to skip it",
    )


def output_path(value: str | None) -> Path | None:
    """The plot path from ``--out``, or None when the user asked for no file."""
    if value is None or str(value).lower() == "none":
        return None
    path = Path(value)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def set_flag_names(parser: argparse.ArgumentParser, names: Mapping[str, str]) -> None:
    """Tell ``lrkit``'s error handler which library parameter names are which of this
    command's flags (see :func:`name_flags`)."""
    parser.set_defaults(flag_names=dict(names))


# a value the message quotes with repr(): the user's own text, never rewritten (an opening
# quote follows no word character, so the apostrophe of "problem's" opens nothing)
_QUOTED = re.compile(r"""((?<!\w)'(?:[^'\\]|\\.)*'(?!\w)|(?<!\w)"(?:[^"\\]|\\.)*"(?!\w))""")


def name_flags(message: str, names: Mapping[str, str] | None) -> str:
    """A library error message with its parameter names replaced by the command's flags;
    quoted values (the user's own text, such as a schedule) are left as they are.

    >>> name_flags("`num` must be >= 2, but got num=1; `warmup_steps`, warmup_steps=3",
    ...            {"num": "--num", "steps": "--steps"})
    '`--num` must be >= 2, but got --num=1; `warmup_steps`, warmup_steps=3'
    >>> name_flags("bad schedule 'cosine(steps=9)': steps=9 is too short", {"steps": "--steps"})
    "bad schedule 'cosine(steps=9)': --steps=9 is too short"
    """
    pieces = _QUOTED.split(message)
    for i in range(0, len(pieces), 2):  # the odd pieces are the quoted values
        for name, flag in (names or {}).items():
            piece = pieces[i].replace(f"`{name}`", f"`{flag}`")
            pieces[i] = re.sub(rf"(?<![\w.\-]){re.escape(name)}=",
                               lambda _m, f=flag: f"{f}=", piece)
    return "".join(pieces)


def show_progress(args: argparse.Namespace) -> bool:
    """Progress bars go to stderr when it is a terminal and JSON was not asked for."""
    return sys.stderr.isatty() and not getattr(args, "json", False)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return _jsonable(value.tolist())
    if isinstance(value, Path):
        return str(value)
    return value


#: where :func:`print_json` writes while :func:`json_stdout` holds stdout for it
_json_stream: list[TextIO] = []


@contextlib.contextmanager
def json_stdout() -> Iterator[None]:
    """Keep stdout for the JSON document alone: anything else printed meanwhile (a user's
    problem file, a library) goes to stderr, so ``--json`` output always parses."""
    _json_stream.append(sys.stdout)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        _json_stream.pop()


def print_json(payload: Any) -> None:
    """Print ``payload`` as JSON; non-finite floats become the strings "nan"/"inf"."""
    stream = _json_stream[-1] if _json_stream else sys.stdout
    json.dump(_jsonable(payload), stream, indent=2)
    stream.write("\n")


def format_table(headers: list[str], rows: list[list[Any]]) -> str:
    """A plain aligned text table."""
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if value is None:
        return "-"
    return str(value)
