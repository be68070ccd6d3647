"""The reference grid: the best held-out loss a problem reaches over a log grid of constant
base rates, averaged over seeds. Every benchmark judges a picked rate against it.

For ``per_decade = d`` the grid is ``default_lr * 10**(k/d)`` for ``k = -4d .. 3d``
(1e-4x to 1e3x the problem's default rate), walked upwards. Each rate is trained in full
(:func:`lrkit.problems.train`) once per seed; its mean held-out loss counts a diverged run
as ``inf``. Once two consecutive rates diverge on every seed, the rest of the high side is
skipped (it can only diverge too) and the grid ends there. When the best rate sits on an
edge of the grid without a divergence beyond it, the grid is extended by whole decades on
that side (at most three) so the best is an interior point.

Results are cached as JSON under ``$LRKIT_CACHE/grid`` (default ``./.lrkit-cache/grid``),
keyed by the problem (name and a fingerprint of its initial state), steps, seeds, schedule
text and ``per_decade``. Files are written atomically, and a lock file makes a second
process that asks for the same grid wait for the first and then read its result instead of
computing it again.

>>> from lrkit.problems.grid import grid_search
>>> result = grid_search("quadratic", seeds=(0,), per_decade=1, steps=30, cache_dir=None)
>>> 1e-4 < result.best_lr < 1.0
True
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lrkit._progress import progress_bar
from lrkit._validation import check_int
from lrkit.problems.base import Problem
from lrkit.problems.train import _check_seeds, resolve_problem, resolve_schedule, train

logger = logging.getLogger(__name__)

CACHE_VERSION = 1
LOW_DECADES = 4
HIGH_DECADES = 3
MAX_EXTRA_DECADES = 3


@dataclass(frozen=True)
class GridResult:
    """Held-out losses of full runs over a log grid of rates.

    Attributes:
        problem: the problem's name.
        steps, seeds, per_decade, schedule: what the grid was run with.
        lrs: the rates, ascending.
        losses: held-out loss per (rate, seed), ``inf`` for a diverged run.
        mean_losses: mean over seeds per rate (``inf`` if any seed diverged).
        seconds_per_run: mean wall time of one full (non-diverged) run.
        cache_hit: the result was read from the cache.
    """

    problem: str
    steps: int
    seeds: tuple[int, ...]
    per_decade: int
    schedule: str
    lrs: np.ndarray = field(repr=False)
    losses: np.ndarray = field(repr=False)
    seconds_per_run: float
    cache_hit: bool = False

    @property
    def mean_losses(self) -> np.ndarray:
        return self.losses.mean(axis=1)

    @property
    def diverged(self) -> np.ndarray:
        """Per (rate, seed): did that run diverge."""
        return ~np.isfinite(self.losses)

    @property
    def best_index(self) -> int:
        return int(np.argmin(self.mean_losses))

    @property
    def best_lr(self) -> float:
        """The grid rate with the lowest mean held-out loss."""
        return float(self.lrs[self.best_index])

    @property
    def best_loss(self) -> float:
        """The lowest mean held-out loss on the grid."""
        return float(self.mean_losses[self.best_index])

    @property
    def divergence_lr(self) -> float | None:
        """The smallest grid rate at which some seed diverged, None when none did."""
        bad = np.flatnonzero(self.diverged.any(axis=1))
        return float(self.lrs[bad[0]]) if len(bad) else None

    def ratio(self, loss: float) -> float:
        """``loss / best_loss``: how far a loss is from the grid's best (1.0 = as good)."""
        return float(loss) / self.best_loss

    def to_dict(self) -> dict[str, Any]:
        return {
            "problem": self.problem,
            "steps": self.steps,
            "seeds": list(self.seeds),
            "per_decade": self.per_decade,
            "schedule": self.schedule,
            "lrs": [float(v) for v in self.lrs],
            "losses": [[_encode(v) for v in row] for row in self.losses],
            "seconds_per_run": self.seconds_per_run,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, cache_hit: bool = False) -> GridResult:
        return cls(
            problem=data["problem"],
            steps=int(data["steps"]),
            seeds=tuple(int(s) for s in data["seeds"]),
            per_decade=int(data["per_decade"]),
            schedule=data["schedule"],
            lrs=np.array(data["lrs"], dtype=float),
            losses=np.array([[_decode(v) for v in row] for row in data["losses"]], dtype=float),
            seconds_per_run=float(data["seconds_per_run"]),
            cache_hit=cache_hit,
        )


def grid_search(
    problem: Problem | str,
    *,
    seeds: Sequence[int] = (0, 1, 2, 3),
    per_decade: int = 4,
    schedule: Any = None,
    steps: int | None = None,
    cache_dir: str | os.PathLike[str] | None | bool = True,
    progress: bool = False,
) -> GridResult:
    """Train ``problem`` at every rate of a log grid around its default rate, per seed.

    Args:
        problem: a Problem, a registered name or ``path.py:function``.
        seeds: the seeds every rate is trained with.
        per_decade: grid points per factor of 10.
        schedule: the shape of every run (None: :func:`lrkit.problems.default_schedule`).
        steps: steps per run (the problem's budget when None).
        cache_dir: a directory for the JSON cache; True (default) for
            ``$LRKIT_CACHE/grid`` or ``./.lrkit-cache/grid``; None or False for no cache.
            A schedule that is a plain callable (no schedule text) is never cached.
        progress: a progress bar over the runs.
    """
    problem = resolve_problem(problem)
    seeds = _check_seeds(seeds)
    per_decade = check_int("per_decade", per_decade, minimum=1)
    steps = problem.steps if steps is None else check_int("steps", steps, minimum=1)
    shape = resolve_schedule(schedule, steps)
    schedule_text = _schedule_text(shape)

    directory = _cache_directory(cache_dir)
    if directory is None or schedule_text is None:
        if directory is not None:
            logger.info("grid for %s not cached: its schedule %r has no text", problem.name, shape)
        return _compute(
            problem, seeds, per_decade, shape, schedule_text or repr(shape), steps, progress
        )

    key = {
        "version": CACHE_VERSION,
        "problem": problem.name,
        "fingerprint": _fingerprint(problem),
        "steps": steps,
        "seeds": list(seeds),
        "schedule": schedule_text,
        "per_decade": per_decade,
        "default_lr": problem.default_lr,
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    path = directory / f"{_safe(problem.name)}-{digest}.json"
    cached = _read(path, key)
    if cached is not None:
        return cached
    with _locked(path.with_suffix(".lock")):
        cached = _read(path, key)  # another process may have finished it while we waited
        if cached is not None:
            return cached
        result = _compute(problem, seeds, per_decade, shape, schedule_text, steps, progress)
        _write_atomic(path, {"key": key, "result": result.to_dict()})
    return result


def _compute(
    problem: Problem,
    seeds: tuple[int, ...],
    per_decade: int,
    shape: Any,
    schedule_text: str,
    steps: int,
    progress: bool,
) -> GridResult:
    losses: dict[int, list[float]] = {}
    seconds: list[float] = []

    def run(k: int) -> bool:
        """Train rate k on every seed; True when every seed diverged."""
        lr = problem.default_lr * 10.0 ** (k / per_decade)
        row = []
        for seed in seeds:
            result = train(problem, lr, seed=seed, schedule=shape, steps=steps)
            row.append(result.held_out)
            if not result.diverged:
                seconds.append(result.seconds)
            bar.update()
        losses[k] = row
        return all(math.isinf(v) for v in row)

    low, high = -LOW_DECADES * per_decade, HIGH_DECADES * per_decade
    total = (high - low + 1) * len(seeds)
    with progress_bar(total, f"grid {problem.name}", progress) as bar:
        top = _walk_up(run, low, high)
        extra = 0
        # the best sits on the top edge and nothing diverged beyond it: look further up
        while top is None and extra < MAX_EXTRA_DECADES and _best_k(losses) == max(losses):
            extra += 1
            top = _walk_up(run, max(losses) + 1, max(losses) + per_decade)
        extra = 0
        while extra < MAX_EXTRA_DECADES and _best_k(losses) == min(losses):
            extra += 1
            start = min(losses)
            for k in range(start - 1, start - per_decade - 1, -1):
                run(k)
    ks = sorted(losses)
    return GridResult(
        problem=problem.name,
        steps=steps,
        seeds=seeds,
        per_decade=per_decade,
        schedule=schedule_text,
        lrs=np.array([problem.default_lr * 10.0 ** (k / per_decade) for k in ks]),
        losses=np.array([losses[k] for k in ks], dtype=float),
        seconds_per_run=float(np.mean(seconds)) if seconds else math.nan,
        cache_hit=False,
    )


def _walk_up(run: Any, first: int, last: int) -> int | None:
    """Run rates first..last upwards; stop after two consecutive all-diverged rates and
    return the index of the second, else None."""
    streak = 0
    for k in range(first, last + 1):
        streak = streak + 1 if run(k) else 0
        if streak == 2:
            return k
    return None


def _best_k(losses: dict[int, list[float]]) -> int:
    ks = sorted(losses)
    return ks[int(np.argmin([np.mean(losses[k]) for k in ks]))]


def _schedule_text(shape: Any) -> str | None:
    from lrkit.schedules import Schedule

    return str(shape) if isinstance(shape, Schedule) else None


def _fingerprint(problem: Problem) -> str:
    """The held-out loss of the seed-0 initial model: changes when the problem's model,
    data or evaluation changes, so an edited problem never reads a stale grid."""
    from lrkit.problems._common import seeded

    return f"{seeded(0, lambda: float(problem.evaluate(problem.make_model(0)))):.6g}"


def default_cache_directory() -> Path:
    """``$LRKIT_CACHE/grid`` when the variable is set, else ``./.lrkit-cache/grid``."""
    root = os.environ.get("LRKIT_CACHE")
    return (Path(root) if root else Path.cwd() / ".lrkit-cache") / "grid"


def _cache_directory(cache_dir: Any) -> Path | None:
    if cache_dir is None or cache_dir is False:
        return None
    if cache_dir is True:
        return default_cache_directory()
    if isinstance(cache_dir, (str, os.PathLike)):
        return Path(cache_dir)
    raise TypeError(
        f"`cache_dir` must be a path, True, False or None, but got cache_dir={cache_dir!r}"
    )


def _read(path: Path, key: dict[str, Any]) -> GridResult | None:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        logger.warning("ignoring unreadable grid cache %s: %s", path, exc)
        return None
    if data.get("key") != key:
        return None
    return GridResult.from_dict(data["result"], cache_hit=True)


def _write_atomic(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``path`` (no-op where ``fcntl`` is missing), whose
    file is removed when the lock is released, so none is left beside the cache."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        handle = open(path, "a")
        fcntl.flock(handle, fcntl.LOCK_EX)
        # a waiter may have locked a file its holder then removed: only the file still at
        # ``path`` excludes the others, so lock again until it is that one
        try:
            if os.fstat(handle.fileno()).st_ino == os.stat(path).st_ino:
                break
        except FileNotFoundError:
            pass
        handle.close()
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # before unlocking, so no one locks the removed file as current
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:60]


def _encode(value: float) -> float | str:
    return value if math.isfinite(value) else "inf"


def _decode(value: float | str) -> float:
    return math.inf if value == "inf" else float(value)
