"""Replay a recorded run through a :class:`Monitor`: the verdicts over time, the changes
between them and one overall diagnosis. Used by ``lrkit diagnose`` and by tests.

>>> d = diagnose([2.0 / (1 + 0.1 * t) for t in range(100)] + [float("nan")])
>>> d.status, d.changes[-1].step
('diverged', 100)
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lrkit.monitor.detector import Monitor
from lrkit.monitor.verdict import DIVERGED, OK, PLATEAU, STATUSES, TOO_HIGH, TOO_LOW, Verdict

# the overall status is the most severe one seen, in this order
_SEVERITY = (DIVERGED, TOO_HIGH, TOO_LOW, PLATEAU, OK)


@dataclass(frozen=True)
class Change:
    """The verdict changed at ``step`` (a row of the table ``lrkit diagnose`` prints)."""

    step: int
    status: str
    cause: str
    factor: float
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "status": self.status, "cause": self.cause,
                "factor": self.factor, "detail": self.detail}


@dataclass(frozen=True)
class Diagnosis:
    """What the monitor said over a whole run.

    ``status`` is the most severe verdict of the run (diverged > too_high > too_low >
    plateau > ok) that lasted longer than one check, or the most severe seen when none
    did; a divergence of one step the run recovered from (one NaN, one bad batch's spike)
    does not make the run diverged: it is in ``counts`` and ``changes``, and halving the
    rate of a healthy run for it would only slow it. ``factor`` is the status's
    recommended rate factor, ``statuses`` the verdict of every step,
    ``changes`` the steps where it changed, ``counts`` how many steps had each status.
    """

    status: str
    factor: float
    steps: np.ndarray = field(repr=False)
    losses: np.ndarray = field(repr=False)
    statuses: list[str] = field(repr=False)
    changes: list[Change]
    counts: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "factor": self.factor, "counts": self.counts,
                "changes": [c.to_dict() for c in self.changes]}


def diagnose(
    losses: Sequence[float],
    *,
    steps: Sequence[int] | None = None,
    grad_norms: Sequence[float] | None = None,
    lrs: Sequence[float] | None = None,
    monitor: Monitor | None = None,
) -> Diagnosis:
    """Feed a recorded run to a monitor (a default :class:`Monitor` when None)."""
    losses = np.asarray(losses, dtype=float)
    n = losses.size
    if n == 0:
        raise ValueError("`losses` must hold at least one value, but got losses=[]")
    steps_arr = np.arange(n) if steps is None else np.asarray(steps)
    for name, column in (("steps", steps_arr), ("grad_norms", grad_norms), ("lrs", lrs)):
        if column is not None and len(column) != n:
            raise ValueError(
                f"`{name}` must have one value per loss ({n}), but got {name} of length {len(column)}"
            )
    if steps_arr.size and not np.isfinite(steps_arr.astype(float)).all():
        raise ValueError("`steps` must be finite numbers, but got a non-finite step")
    # compared, not subtracted: np.diff wraps around on unsigned integers
    backwards = np.flatnonzero(steps_arr[1:] < steps_arr[:-1])
    if backwards.size:
        i = int(backwards[0]) + 1
        raise ValueError(
            f"`steps` must never go backwards, but got step {steps_arr[i]} after step "
            f"{steps_arr[i - 1]} (index {i}); a log of a resumed run holds both attempts: "
            f"keep the rows of the one to diagnose"
        )
    monitor = Monitor() if monitor is None else monitor
    statuses: list[str] = []
    changes: list[Change] = []
    last_of: dict[str, Verdict] = {}  # each status's last verdict (its factor)
    previous = None
    for i in range(n):
        g = None if grad_norms is None or _missing(grad_norms[i]) else grad_norms[i]
        r = None if lrs is None or _missing(lrs[i]) else lrs[i]
        verdict = monitor.update(losses[i], grad_norm=g, lr=r)
        statuses.append(verdict.status)
        key = (verdict.status, verdict.cause)
        if key != previous:
            detail = verdict.evidence[0].detail if verdict.evidence else ""
            changes.append(Change(int(steps_arr[i]), verdict.status, verdict.cause,
                                  verdict.factor, detail))
            previous = key
        last_of[verdict.status] = verdict
    counts = Counter(statuses)
    worst = last_of[_overall(statuses, counts[DIVERGED], monitor.check_every)]
    return Diagnosis(
        status=worst.status,
        factor=worst.factor,
        steps=steps_arr,
        losses=losses,
        statuses=statuses,
        changes=changes,
        counts={s: counts.get(s, 0) for s in STATUSES},
    )


def _overall(statuses: list[str], diverged: int, check_every: int) -> str:
    """The run's status: ``diverged`` when it diverged for more than one step or ended so;
    else the most severe status that lasted longer than one check, if any did (a status
    seen at single checks only, here and there in a long run, is the noise of a 3-sigma
    test); else the most severe status seen."""
    if diverged > 1 or statuses[-1] == DIVERGED:
        return DIVERGED
    episodes: dict[str, int] = {}  # the longest run of each status
    length = 0
    for i, status in enumerate(statuses):
        length = length + 1 if i and statuses[i - 1] == status else 1
        episodes[status] = max(episodes.get(status, 0), length)
    seen = [status for status in _SEVERITY if status in episodes and status != DIVERGED]
    sustained = [status for status in seen if status != OK and episodes[status] > check_every]
    return (sustained or seen)[0]


def _missing(value: Any) -> bool:
    """None, or a NaN of any float type (numpy's float32 included): a gap in the column."""
    return value is None or (isinstance(value, (float, np.floating)) and math.isnan(value))


def read_log(path: str | os.PathLike[str], *, loss_column: str = "loss") -> dict[str, np.ndarray]:
    """Read a loss log: CSV with a header, or JSON lines (one object per step).

    Needs a loss column (``loss_column``, e.g. ``train_loss`` for a Lightning CSVLogger's
    metrics.csv); ``step`` (default 0, 1, ...), ``grad_norm`` and ``lr`` are optional. Rows
    without a loss (e.g. an evaluation row: an empty CSV cell, a JSON object without the
    key) are skipped; ``nan``/``inf`` are kept, they are what a divergence looks like, and so
    is a JSON ``null`` loss, which is how pandas' ``to_json`` and others write NaN. The
    result's loss is under ``"loss"``.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"`log` must be an existing file, but got log={str(path)!r}")
    try:  # utf-8-sig: a byte-order mark (Excel, PowerShell) is not part of the first name
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError(f"`log` must be a text file (CSV or JSON lines), but got "
                         f"log={str(path)!r}, which is not UTF-8 text") from None
    rows: list[dict[str, Any]]
    stripped = text.lstrip()
    lines: list[int] = []  # the file line of each row, for messages
    if path.suffix.lower() in (".jsonl", ".json", ".ndjson") or stripped.startswith("{"):
        rows = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(
                    f"`log` must hold one JSON object per line, but got log={str(path)!r} "
                    f"(line {number}: {exc.msg})"
                ) from None
            if isinstance(row, dict):
                if loss_column in row and row[loss_column] is None:
                    row[loss_column] = math.nan  # JSON has no NaN: null is how it is written
                rows.append(row)
                lines.append(number)
    else:
        # spaces after the commas ("step, loss") are the writer's layout, not part of names
        reader = csv.DictReader(text.splitlines(), skipinitialspace=True)
        rows = []
        try:
            for row in reader:
                rows.append(row)
                lines.append(reader.line_num)
        except csv.Error as exc:  # e.g. a field over the csv module's size limit
            raise ValueError(f"`log` must be a CSV file with a header, but got "
                             f"log={str(path)!r} (line {reader.line_num}: {exc})") from None
    columns = sorted({str(key) for row in rows for key in row if key is not None})
    kept = [(r, n) for r, n in zip(rows, lines, strict=True) if r.get(loss_column) not in (None, "")]
    if not kept:
        raise ValueError(
            f"`log` must have a {loss_column!r} column with at least one value, but got "
            f"log={str(path)!r} with columns {', '.join(map(repr, columns)) or 'none'}"
        )
    rows, lines = [r for r, _ in kept], [n for _, n in kept]
    out: dict[str, np.ndarray] = {
        "loss": np.array([_number(r[loss_column], loss_column) for r in rows])
    }
    out["step"] = (np.array([_step(r["step"]) for r in rows])
                   if all(r.get("step") not in (None, "") for r in rows) else np.arange(len(rows)))
    backwards = np.flatnonzero(out["step"][1:] < out["step"][:-1])
    if backwards.size:
        i = int(backwards[0]) + 1
        raise ValueError(
            f"`log` steps must never go backwards, but got step {out['step'][i]} after step "
            f"{out['step'][i - 1]} on line {lines[i]} of {str(path)!r}; a log of a resumed run "
            "holds both attempts: keep the lines of the one to diagnose")
    for column in ("grad_norm", "lr"):
        if any(r.get(column) not in (None, "") for r in rows):
            out[column] = np.array([
                math.nan if r.get(column) in (None, "") else _number(r[column], column) for r in rows
            ])
    return out


def _step(value: Any) -> int:
    """A step number: a whole, finite number (``100`` or ``100.0``)."""
    number = _number(value, "step")
    if not (math.isfinite(number) and number == int(number)):
        raise ValueError(f"`step` must be a whole number in every row, but got step={value!r}")
    return int(number)


def _number(value: Any, column: str) -> float:
    if isinstance(value, bool):  # JSON true/false: float() would take them for 1 and 0
        raise ValueError(f"`{column}` must be a number in every row, but got {column}={value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"`{column}` must be a number in every row, but got {column}={value!r}"
        ) from None
