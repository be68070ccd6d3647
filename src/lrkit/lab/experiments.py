"""The lab's experiments: run optimizers on objectives and return the data (no plotting here).

* :func:`run` — one optimizer on one objective; an array of rates runs one row per rate.
* :func:`sweep` — final loss against the rate over a fine grid, split into the too-low, good
  and too-high zones, beside the theoretical rates where they are known.
* :func:`path` — the trajectories of several rates (for contour plots) and their loss curves.
* :func:`decay` — the same rate with and without a decaying schedule on a noisy objective.
* :func:`compare` — several optimizers, each at the best rate of its own sweep.

Losses are reported as the *gap* ``f(x) - f*`` to the known minimum, so that "how far from
the answer" reads the same on every objective and on a log axis.

>>> from lrkit.lab import experiments
>>> r = experiments.sweep("quadratic", "gd", num=50, steps=100)
>>> bool(r.theory["2/(L+mu)"] / 2 < r.best_lr < 2 * r.theory["2/(L+mu)"])
True
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lrkit._progress import progress_bar
from lrkit._validation import _fail, check_int, check_positive, check_range, check_seed
from lrkit.errors import LrkitWarning
from lrkit.lab import objectives as _objectives
from lrkit.lab import optimizers as _optimizers
from lrkit.lab import theory
from lrkit.lab.objectives import Objective
from lrkit.lab.optimizers import Rate

# a run whose gap grows past this factor of its start is stopped and counted as diverged
BLOWUP = 1e10

DEFAULT_COMPARE = ("gd", "heavy-ball", "nesterov", "adagrad", "rmsprop", "adam")


@dataclass(frozen=True)
class Trajectory:
    """What :func:`run` recorded.

    Attributes:
        gaps: ``f(x_t) - f*`` for ``t = 0..steps``; shape ``(steps + 1,)``, or
            ``(steps + 1, n)`` for an array of ``n`` rates. ``inf`` once a run has blown up.
        rates: the rate used at each step, shape ``(steps,)`` or ``(steps, n)``.
        xs: the iterates ``(steps + 1, dim)`` or ``(steps + 1, n, dim)``, when recorded.
        diverged: whether the run ended farther from the answer than it started (or blew up).
        diverged_at: the step a blown-up run was stopped at, -1 for the others.
    """

    gaps: np.ndarray
    rates: np.ndarray
    xs: np.ndarray | None
    diverged: np.ndarray | bool
    diverged_at: np.ndarray | int


def _as_objective(objective: Objective | str) -> Objective:
    if isinstance(objective, str):
        return _objectives.make(objective)
    if not isinstance(objective, Objective):
        _fail("objective", "an lrkit.lab Objective or the name of one", objective, TypeError)
    return objective


def _as_optimizer(optimizer: Any, lr: Rate, hyper: dict[str, Any]) -> Any:
    """An optimizer named ``optimizer`` (or a copy of the given one) running at rate ``lr``."""
    if isinstance(optimizer, str):
        return _optimizers.make(optimizer, lr, **hyper)
    if isinstance(optimizer, _optimizers._Optimizer):
        if hyper:
            _fail("hyperparameters", "given inside the optimizer object, not beside it", hyper)
        return dataclasses.replace(optimizer, lr=lr)
    _fail("optimizer", "an lrkit.lab optimizer or the name of one", optimizer, TypeError)


def run(objective: Objective | str, optimizer: Any, *, steps: int, x0: np.ndarray | None = None,
        seed: int | None = 0, record_path: bool = False, progress: bool = False) -> Trajectory:
    """Run ``optimizer`` (an :mod:`lrkit.lab.optimizers` object) on ``objective`` for ``steps``.

    Stochastic objectives draw their gradient noise from ``numpy.random.default_rng(seed)``;
    with an array of rates each row gets its own noise. A row is stopped once its gap
    exceeds ``BLOWUP`` times the starting gap or stops being finite. Gaps below the
    objective's rounding ``resolution`` are recorded as that resolution (below it, the
    difference ``loss(x) - f*`` is noise).

    >>> from lrkit.lab import objectives, optimizers
    >>> q = objectives.quadratic(kappa=10, dim=5)
    >>> t = run(q, optimizers.GD(lr=2 / 1.1), steps=100)
    >>> bool(t.gaps[-1] < 1e-6 * t.gaps[0])
    True
    """
    objective = _as_objective(objective)
    steps = check_int("steps", steps, minimum=1)
    if not isinstance(optimizer, _optimizers._Optimizer):
        _fail("optimizer", "an lrkit.lab optimizer such as GD(lr=0.1) (sweep and path take "
              "names)", optimizer, TypeError)
    batched = isinstance(optimizer.lr, np.ndarray)
    n = len(optimizer.lr) if batched else 1
    seed = None if seed is None else check_seed("seed", seed)  # None: fresh noise
    start = objective.x0 if x0 is None else np.asarray(x0, dtype=float)
    if start.shape != (objective.dim,):
        _fail("x0", f"an array of shape ({objective.dim},)", x0)
    if not np.all(np.isfinite(start)):
        _fail("x0", "finite numbers", x0)
    x = np.tile(start, (n, 1))
    rng = np.random.default_rng(seed)
    state = optimizer.init(x)
    gaps = np.empty((steps + 1, n))
    rates = np.empty((steps, n))
    xs = np.empty((steps + 1, n, objective.dim)) if record_path else None
    alive = np.ones(n, dtype=bool)
    diverged_at = np.full(n, -1)
    with np.errstate(all="ignore"), _one_blas_thread():
        floor = objective.resolution
        gaps[0] = np.maximum(objective.loss(x) - objective.f_star, floor)
        limit = BLOWUP * np.maximum(np.abs(gaps[0]), 1e-12)
        if xs is not None:
            xs[0] = x
        with progress_bar(steps, f"{optimizer.name} on {objective.name}", progress) as bar:
            for t in range(steps):
                rates[t] = np.broadcast_to(np.ravel(optimizer.rate(t)), (n,))
                bad = ~(np.isfinite(rates[t]) & (rates[t] >= 0))
                if np.any(bad):
                    _fail("lr", f"a schedule of finite rates >= 0 (step {t} gave "
                          f"{float(rates[t][bad][0]):g})", optimizer.lr)
                grad = objective.sample_grad(x, rng)
                new_x, state = optimizer.update(x, grad, state)
                x = np.where(alive[:, None], new_x, x)
                gap = np.maximum(objective.loss(x) - objective.f_star, floor)
                blown = alive & ~(np.isfinite(gap) & (gap <= limit))
                diverged_at[blown] = t + 1
                alive &= ~blown
                gaps[t + 1] = np.where(alive, gap, np.inf)
                if xs is not None:
                    xs[t + 1] = x
                bar.update()
    diverged = ~alive | (gaps[-1] > gaps[0])
    if batched:
        return Trajectory(gaps, rates, xs, diverged, diverged_at)
    return Trajectory(gaps[:, 0], rates[:, 0], None if xs is None else xs[:, 0], bool(diverged[0]),
                      int(diverged_at[0]))


@contextlib.contextmanager
def _one_blas_thread() -> Iterator[None]:
    """Keep BLAS on one thread: the lab's matrices are tiny, and on a busy machine a
    multi-threaded BLAS makes them tens of times slower. (threadpoolctl comes with
    scikit-learn; without it BLAS keeps its own setting.)"""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - only speed is affected
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _final(gaps: np.ndarray, stochastic: bool) -> np.ndarray:
    """The final gap; averaged over the last tenth of the steps when the gradients are noisy."""
    if not stochastic:
        return gaps[-1]
    tail = max(1, (len(gaps) - 1) // 10)
    with np.errstate(invalid="ignore"):
        return gaps[-tail:].mean(axis=0)


def default_lrs(objective: Objective, optimizer: str, num: int) -> np.ndarray:
    """The grid a sweep uses when none is given.

    Gradient descent and momentum methods on an objective of known smoothness ``L`` span
    ``1e-3/L`` up to a little past their divergence threshold (``2/L``, or ``2(1+m)/L`` for
    momentum ``m``; ten times further where ``L`` is only a bound, as for logistic
    regression); anything else spans ``1e-4`` to ``10``.
    """
    if objective.L is not None and optimizer in ("gd", "heavy-ball", "nesterov"):
        top = 4.0 if optimizer == "gd" else 8.0
        if objective.eigenvalues is None:  # L is only an upper bound on the curvature
            top *= 10
        return np.geomspace(1e-3 / objective.L, top / objective.L, num)
    return np.geomspace(1e-4, 10.0, num)


def _theory_rates(objective: Objective, optimizer: Any) -> dict[str, float]:
    """The constant-rate theory of a quadratic, where it applies: only on a quadratic (an
    ``L`` that is a bound, as logistic regression's, puts the lines far below the real
    cliff), only without a schedule, and with L2 weight decay ``wd`` (added to the gradient)
    shifting every curvature to ``lambda + wd``."""
    if objective.eigenvalues is None or objective.L is None or objective.mu is None:
        return {}
    if getattr(optimizer, "schedule", None) is not None or callable(optimizer.lr):
        return {}
    decay = getattr(optimizer, "weight_decay", 0.0)
    L, mu = objective.L + decay, objective.mu + decay
    if optimizer.name == "gd":
        return theory.quadratic_rates(L, mu)
    if optimizer.name == "heavy-ball":
        return {"2(1+m)/L": theory.heavy_ball_max_stable_lr(L, optimizer.momentum)}
    return {}


@dataclass(frozen=True)
class SweepResult:
    """Final gap against the rate (see :func:`sweep`).

    Attributes:
        objective, optimizer: descriptions of what ran.
        steps: steps per run.
        lrs: the grid of rates, increasing.
        initial_gap: ``f(x0) - f*``.
        final_gaps: the gap each rate ended at (``inf`` when it blew up).
        diverged: per rate, whether it ended farther away than it started.
        zones: per rate, ``"too low"``, ``"good"`` or ``"too high"``.
        best_lr, best_gap: the rate with the smallest final gap, and that gap.
        good_range: ``(low, high)``, the rates of the good zone.
        max_stable_lr: the largest rate below the first divergence above ``best_lr``
            (``None`` when nothing on the grid diverged above ``best_lr``, or when
            ``best_lr`` itself diverged, as when every rate on the grid did).
        theory: reference rates by label (``"1/L"``, ``"2/(L+mu)"``, ``"2/L"`` for gradient
            descent on objectives with known ``L`` and ``mu``), empty otherwise.
        theory_gaps: the final gap of a run at exactly each theoretical rate.
        spacing: the grid's ratio between neighbouring rates.
        resolution: the objective's rounding floor; gaps there are as small as float64 allows.
        best_gaps: the gap at every step of the run at ``best_lr`` (``inf`` throughout when
            every rate diverged).

    When every rate diverged (a :class:`~lrkit.LrkitWarning` says so), every zone is "too
    high", ``best_lr`` and ``good_range`` are nan and ``best_gap`` is inf.
    """

    objective: str
    optimizer: str
    steps: int
    lrs: np.ndarray
    initial_gap: float
    final_gaps: np.ndarray
    diverged: np.ndarray
    zones: tuple[str, ...]
    best_lr: float
    best_gap: float
    good_range: tuple[float, float]
    max_stable_lr: float | None
    theory: dict[str, float] = field(default_factory=dict)
    theory_gaps: dict[str, float] = field(default_factory=dict)
    spacing: float = math.nan
    resolution: float = 0.0
    best_gaps: np.ndarray = field(default_factory=lambda: np.empty(0))

    def to_dict(self) -> dict[str, Any]:
        """Plain Python values for JSON."""
        return {
            "objective": self.objective,
            "optimizer": self.optimizer,
            "steps": self.steps,
            "best_lr": self.best_lr,
            "best_gap": self.best_gap,
            "good_range": list(self.good_range),
            "max_stable_lr": self.max_stable_lr,
            "theory": dict(self.theory),
            "theory_gaps": dict(self.theory_gaps),
            "initial_gap": self.initial_gap,
            "spacing": self.spacing,
            "resolution": self.resolution,
            "lrs": self.lrs.tolist(),
            "final_gaps": self.final_gaps.tolist(),
            "diverged": self.diverged.tolist(),
            "zones": list(self.zones),
        }


def _zones(lrs: np.ndarray, initial: float, finals: np.ndarray, diverged: np.ndarray,
           good_fraction: float) -> tuple[tuple[str, ...], int, int, int]:
    """Split the grid around the best rate.

    Progress is counted in decades, ``log10(initial / final)``. The good zone is the run of
    neighbouring rates around the best one that achieve at least ``good_fraction`` of the
    best rate's decades; rates below it are too low, rates above it too high. When every
    rate diverged, every rate is too high and ``best`` is -1 (there is no best).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        decades = np.log10(max(initial, 1e-300) / np.maximum(finals, 1e-300))
    decades = np.where(diverged | ~np.isfinite(finals), -np.inf, decades)
    if not np.any(np.isfinite(decades)):
        return ("too high",) * len(lrs), -1, -1, -1
    best = int(np.argmax(decades))
    threshold = good_fraction * decades[best] if decades[best] > 0 else decades[best]
    low = best
    while low > 0 and decades[low - 1] >= threshold:
        low -= 1
    high = best
    while high < len(lrs) - 1 and decades[high + 1] >= threshold:
        high += 1
    zones = tuple("too low" if i < low else "too high" if i > high else "good"
                  for i in range(len(lrs)))
    return zones, best, low, high


def sweep(objective: Objective | str, optimizer: Any = "gd", *,
          lrs: Sequence[float] | np.ndarray | None = None, num: int = 200, steps: int = 1000,
          seed: int = 0, good_fraction: float = 0.5, progress: bool = False,
          **hyperparameters: Any) -> SweepResult:
    """Run ``optimizer`` at every rate of a fine log grid and record the final gap.

    All rates run at once as the rows of one array. Zones: see :class:`SweepResult`; on a
    quadratic the best rate of gradient descent sits at ``2/(L + mu)`` and divergence starts
    at ``2/L``.

    Args:
        objective: an :class:`~lrkit.lab.objectives.Objective` or its name.
        optimizer: an optimizer name (``"gd"``, ``"adam"``, ...) or object (its rate is replaced).
        lrs: the grid (sorted into increasing order); default :func:`default_lrs` of ``num``.
        steps: steps per run.
        good_fraction: share of the best rate's progress (in decades) that counts as good.
        hyperparameters: passed to the optimizer (``momentum=0.9``, ``weight_decay=...``).

    >>> r = sweep("quadratic", "gd", num=100, steps=100)
    >>> r.zones[0], r.zones[-1]
    ('too low', 'too high')
    """
    objective = _as_objective(objective)
    steps = check_int("steps", steps, minimum=1)
    good_fraction = check_range("good_fraction", good_fraction, 0.0, 1.0, low_open=True)
    name = optimizer if isinstance(optimizer, str) else getattr(optimizer, "name", "")
    if lrs is None:
        num = check_int("num", num, minimum=2)
        grid = default_lrs(objective, name, num)
    else:
        grid = np.sort([check_positive("lrs", lr) for lr in np.ravel(lrs)])
        if grid.size < 2:
            _fail("lrs", "at least two rates", lrs)
    opt = _as_optimizer(optimizer, grid, hyperparameters)
    trajectory = run(objective, opt, steps=steps, seed=seed, progress=progress)
    finals = _final(trajectory.gaps, objective.stochastic)
    diverged = np.asarray(trajectory.diverged)
    initial = float(trajectory.gaps[0, 0])
    zones, best, low, high = _zones(grid, initial, finals, diverged, good_fraction)
    theory_rates = _theory_rates(objective, opt)
    theory_gaps: dict[str, float] = {}
    if theory_rates:
        exact = run(objective, dataclasses.replace(opt, lr=np.array(list(theory_rates.values()))),
                    steps=steps, seed=seed)
        theory_gaps = dict(zip(theory_rates, map(float, _final(exact.gaps, objective.stochastic)),
                               strict=True))
    if best < 0:
        warnings.warn(f"every rate of the sweep diverged, from {grid[0]:.3g} to {grid[-1]:.3g}: "
                      "try smaller rates", LrkitWarning, stacklevel=2)
        best_lr, best_gap, good_range = math.nan, math.inf, (math.nan, math.nan)
        max_stable = None
    else:
        best_lr, best_gap = float(grid[best]), float(finals[best])
        good_range = (float(grid[low]), float(grid[high]))
        above = np.nonzero(diverged[best:])[0]
        max_stable = float(grid[best + above[0] - 1]) if above.size and above[0] > 0 else None
    return SweepResult(
        objective=objective.description,
        optimizer=opt.name,
        steps=steps,
        lrs=grid,
        initial_gap=initial,
        final_gaps=finals,
        diverged=diverged,
        zones=zones,
        best_lr=best_lr,
        best_gap=best_gap,
        good_range=good_range,
        max_stable_lr=max_stable,
        best_gaps=trajectory.gaps[:, best] if best >= 0 else np.full(steps + 1, math.inf),
        theory=theory_rates,
        theory_gaps=theory_gaps,
        spacing=float(np.exp(np.mean(np.diff(np.log(grid))))),
        resolution=objective.resolution,
    )


@dataclass(frozen=True)
class PathResult:
    """Trajectories of several rates (see :func:`path`).

    Attributes:
        objective: the objective itself (plots draw its contours).
        optimizer: the optimizer's name.
        lrs: the rates, in the order given.
        xs: iterates, shape ``(len(lrs), steps + 1, dim)``.
        gaps: ``f(x_t) - f*``, shape ``(len(lrs), steps + 1)``.
        diverged: per rate.
    """

    objective: Objective
    optimizer: str
    lrs: np.ndarray
    xs: np.ndarray
    gaps: np.ndarray
    diverged: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        """Plain Python values for JSON (final points and gaps, not the whole paths)."""
        return {
            "objective": self.objective.description,
            "optimizer": self.optimizer,
            "steps": int(self.gaps.shape[1] - 1),
            "x_star": self.objective.x_star.tolist(),
            "runs": [
                {"lr": float(lr), "final_gap": float(g[-1]), "final_x": x[-1].tolist(),
                 "distance": float(np.linalg.norm(x[-1] - self.objective.x_star)),
                 "diverged": bool(d)}
                for lr, g, x, d in zip(self.lrs, self.gaps, self.xs, self.diverged, strict=True)
            ],
        }


def path(objective: Objective | str, optimizer: Any = "adam",
         lrs: Iterable[float] = (1e-3, 3e-2, 3e-1), *, steps: int = 500, seed: int = 0,
         x0: np.ndarray | None = None, **hyperparameters: Any) -> PathResult:
    """Record the path of ``optimizer`` from ``x0`` at each rate in ``lrs``.

    >>> r = path("rosenbrock", "adam", (1e-3, 3e-2), steps=200)
    >>> bool(r.gaps[1, -1] < r.gaps[0, -1])   # the larger rate got further
    True
    """
    objective = _as_objective(objective)
    rates = np.array([check_positive("lrs", lr) for lr in lrs], dtype=float)
    if rates.size == 0:
        _fail("lrs", "at least one rate", lrs)
    opt = _as_optimizer(optimizer, rates, hyperparameters)
    t = run(objective, opt, steps=steps, x0=x0, seed=seed, record_path=True)
    assert t.xs is not None
    return PathResult(objective, opt.name, rates, np.swapaxes(t.xs, 0, 1), t.gaps.T,
                      np.asarray(t.diverged))


@dataclass(frozen=True)
class DecayResult:
    """Constant rates against a decaying one (see :func:`decay`).

    Attributes:
        objective, optimizer, schedule: descriptions of what ran.
        lr: the peak rate.
        seeds: how many noise seeds each curve averages.
        curves: label -> mean gap per step ``(steps + 1,)``: ``"constant lr"``,
            ``"constant lr*f"`` (the small constant rate, ``f = small_factor``) and
            ``"decayed"``.
        rates: label -> the rate per step.
        finals: label -> mean gap over the last tenth of the steps.
        noise_floor: the theoretical floor of the constant rate
            (:func:`lrkit.lab.theory.noise_floor`, gradient descent on a noisy quadratic),
            else ``None``.
        diverged: label -> how many of the seeds' runs diverged (blew up, their gap ``inf``,
            or ended farther from the answer than they started).
    """

    objective: str
    optimizer: str
    schedule: str
    lr: float
    seeds: int
    curves: dict[str, np.ndarray]
    rates: dict[str, np.ndarray]
    finals: dict[str, float]
    noise_floor: float | None
    diverged: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain Python values for JSON."""
        return {
            "objective": self.objective,
            "optimizer": self.optimizer,
            "schedule": self.schedule,
            "lr": self.lr,
            "seeds": self.seeds,
            "finals": dict(self.finals),
            "noise_floor": self.noise_floor,
            "diverged": dict(self.diverged),
            "curves": {k: v.tolist() for k, v in self.curves.items()},
        }


def decay(objective: Objective | str = "noisy-quadratic", optimizer: Any = "gd",
          lr: float | None = None, schedule: Callable[[int], float] | None = None, *,
          steps: int = 1000, seeds: int = 8, small_factor: float = 0.1, seed: int = 0,
          **hyperparameters: Any) -> DecayResult:
    """The same peak rate with and without decay, beside a small constant rate.

    On a noisy objective a constant rate converges fast and then stalls at a noise floor
    proportional to the rate; a rate ``small_factor`` times smaller has a lower floor but
    takes ``1/small_factor`` times longer; decaying the large rate gets the early speed and
    the precise end. Each curve is the mean gap over ``seeds`` independent noise draws.

    Args:
        lr: the peak rate; default ``1/L`` where ``L`` is known, else the rate of an
            optimizer object, else ``1/L`` with ``L`` the largest curvature at the start
            (:meth:`~lrkit.lab.objectives.Objective.curvature_at`) where it is positive,
            else the named optimizer's default. On an objective with exact gradients one
            seed runs, whatever ``seeds`` says: every seed would run the same curve. An object's own
            ``schedule`` is not used: the constant runs are constant, the decayed one follows
            ``schedule``.
        schedule: the decay, a callable ``step -> multiplier``; default
            ``lrkit.schedules.cosine(steps)``.

    >>> r = decay(steps=400, seeds=4)
    >>> bool(r.finals["decayed"] < r.finals["constant lr"])
    True
    """
    objective = _as_objective(objective)
    steps = check_int("steps", steps, minimum=1)
    seeds = check_int("seeds", seeds, minimum=1)
    small_factor = check_range("small_factor", small_factor, 0.0, 1.0, low_open=True)
    name = optimizer if isinstance(optimizer, str) else getattr(optimizer, "name", "")
    if not objective.stochastic:
        seeds = 1  # exact gradients: every seed would run the same curve
    if lr is None:
        if objective.L is not None:
            lr = 1.0 / objective.L
        elif isinstance(optimizer, _optimizers._Optimizer) and isinstance(optimizer.lr, float):
            lr = optimizer.lr  # an optimizer object: its own rate
        elif (curvature := objective.curvature_at(objective.x0)) > 0:
            # the curvature where the runs start, in place of a global L no one knows
            lr = 1.0 / curvature
        else:
            _optimizers.make(name, 1.0)  # an unknown name: the optimizer's own error
            lr = _optimizers.OPTIMIZERS[name].__dataclass_fields__["lr"].default
    lr = check_positive("lr", lr)
    if schedule is None:
        from lrkit import schedules

        schedule = schedules.cosine(steps)
    elif not callable(schedule):
        _fail("schedule", "a callable step -> multiplier", schedule, TypeError)
    runs = {
        "constant lr": (lr, None),
        f"constant lr*{small_factor:g}": (lr * small_factor, None),
        "decayed": (lr, schedule),
    }
    curves, rates, finals, diverged = {}, {}, {}, {}
    for label, (rate, shape) in runs.items():
        opt = _as_optimizer(optimizer, np.full(seeds, rate), hyperparameters)
        # the constant runs are constant even when an optimizer object brings a schedule
        opt = dataclasses.replace(opt, schedule=shape)
        t = run(objective, opt, steps=steps, seed=seed)
        curves[label] = t.gaps.mean(axis=1)
        rates[label] = t.rates[:, 0]
        finals[label] = float(_final(curves[label], True))
        diverged[label] = int(np.sum(t.diverged))
    floor = None
    if (objective.eigenvalues is not None and objective.noise_std > 0 and name == "gd"
            and not getattr(opt, "weight_decay", 0.0)):
        floor = theory.noise_floor(lr, objective.eigenvalues, objective.noise_std)
    return DecayResult(objective.description, name, str(schedule), lr, seeds, curves, rates,
                       finals, floor, diverged)


@dataclass(frozen=True)
class CompareEntry:
    """One optimizer in :class:`CompareResult`: its sweep and its run at the best rate."""

    optimizer: str
    best_lr: float
    final_gap: float
    gaps: np.ndarray
    sweep: SweepResult


@dataclass(frozen=True)
class CompareResult:
    """Optimizers side by side, each at its own best rate (see :func:`compare`)."""

    objective: str
    steps: int
    entries: tuple[CompareEntry, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain Python values for JSON."""
        return {
            "objective": self.objective,
            "steps": self.steps,
            "optimizers": [
                {"optimizer": e.optimizer, "best_lr": e.best_lr, "final_gap": e.final_gap,
                 "good_range": list(e.sweep.good_range), "gaps": e.gaps.tolist()}
                for e in self.entries
            ],
        }


def compare(objective: Objective | str,
            optimizers: Iterable[str] = DEFAULT_COMPARE, *, steps: int = 300, num: int = 60,
            seed: int = 0, progress: bool = False) -> CompareResult:
    """Sweep each optimizer's rate and keep each one's run at its best rate.

    Each optimizer gets a log grid of ``num`` rates (:func:`default_lrs`) and its default
    hyperparameters; the best rate is the one with the smallest final gap after ``steps``,
    and its entry is that very run of the sweep (on a noisy objective a rerun would draw
    other noise and end elsewhere).

    >>> r = compare("quadratic", ("gd", "heavy-ball"), steps=100, num=20)
    >>> [e.optimizer for e in r.entries]
    ['gd', 'heavy-ball']
    """
    objective = _as_objective(objective)
    steps = check_int("steps", steps, minimum=1)
    names = list(optimizers)
    if not names:
        _fail("optimizers", "at least one optimizer name", optimizers)
    for name in names:
        if name not in _optimizers.OPTIMIZERS:
            _fail("optimizers", "names among " + ", ".join(_optimizers.names()), optimizers)
    entries = []
    with progress_bar(len(names), f"compare on {objective.name}", progress) as bar:
        for name in names:
            s = sweep(objective, name, num=num, steps=steps, seed=seed)
            # the sweep's own run at its best rate: a rerun alone would draw other noise
            entries.append(CompareEntry(name, s.best_lr, s.best_gap, s.best_gaps, s))
            bar.update()
    return CompareResult(objective.description, steps, tuple(entries))
