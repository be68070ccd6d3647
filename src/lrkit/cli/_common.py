"""Helpers shared by the subcommands: common options, JSON output, progress, output files."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any


def add_problem_argument(parser: argparse.ArgumentParser, *, default: str | None = None) -> None:
    parser.add_argument(
        "--problem",
        default=default,
        required=default is None,
        metavar="NAME|FILE.py:FUNC",
        help="a built-in problem (see 'lrkit find --list-problems') or path/to/file.py:function "
        "returning an lrkit.problems.Problem" + (f" (default: {default})" if default else ""),
    )


def add_json_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")


def add_output_argument(parser: argparse.ArgumentParser, default_name: str) -> None:
    parser.add_argument(
        "--out",
        default=default_name,
        metavar="PATH",
        help=f"where to write the plot (default: {default_name}); 'none' to skip it",
    )


def output_path(value: str | None) -> Path | None:
    """The plot path from ``--out``, or None when the user asked for no file."""
    if value is None or value.lower() == "none":
        return None
    path = Path(value)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


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


def print_json(payload: Any) -> None:
    """Print ``payload`` as JSON; non-finite floats become the strings "nan"/"inf"."""
    json.dump(_jsonable(payload), sys.stdout, indent=2)
    sys.stdout.write("\n")


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
