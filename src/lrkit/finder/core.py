"""The learning-rate range test, framework-agnostic: drive ``step(lr) -> loss``.

The rate grows geometrically from ``start`` to ``end`` over ``num`` steps::

    lr_i = start * (end / start) ** (i / (num - 1)),   i = 0 .. num - 1

one update per rate. The sweep stops at once on a NaN or infinite loss, and when the
loss has blown up (see :mod:`lrkit.finder.divergence`, a test that works for negative
losses). The rules of :mod:`lrkit.finder.rules` then read the curve.

>>> import numpy as np
>>> x = np.array([3.0, -2.0])          # gradient descent on 0.5 * (x0^2 + 4 x1^2)
>>> h = np.array([1.0, 4.0])
>>> def step(lr):
...     global x
...     loss = 0.5 * float(np.sum(h * x * x))
...     x = x - lr * h * x
...     return loss
>>> result = range_test(step, start=1e-4, end=10.0, num=60)
>>> result.stop_reason, result.divergence_lr >= 0.5    # stable below 2 / L = 0.5
('diverged', True)
"""

from __future__ import annotations

import logging
import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from lrkit._progress import progress_bar
from lrkit._validation import check_callable, check_int, check_positive, check_range
from lrkit.finder import rules
from lrkit.finder.divergence import DivergenceDetector, growth_edge
from lrkit.finder.result import RangeTestResult
from lrkit.finder.smoothing import ema

logger = logging.getLogger(__name__)

# the names of the rules in RangeTestResult.suggestions, lrkit's default first
RULES = ("lrkit", "steepest", "valley", "minimum/10", "edge/3")


def sweep_rates(start: float, end: float, num: int) -> np.ndarray:
    """The geometric sequence of rates a range test tries.

    >>> sweep_rates(1e-3, 1e-1, 3).tolist()
    [0.001, 0.01, 0.1]
    """
    start = check_positive("start", start)
    end = check_positive("end", end)
    num = check_int("num", num, minimum=2)
    if end <= start:
        raise ValueError(f"`end` must be > start ({start!r}), but got end={end!r}")
    return np.geomspace(start, end, num)


def default_beta(num: int) -> float:
    """Smoothing that spans about a tenth of the sweep: ``1 - 1 / (num / 10)``, in [0.5, 0.98].

    >>> default_beta(100)
    0.9
    """
    return float(min(0.98, max(0.5, 1.0 - 10.0 / num)))


def range_test(
    step: Callable[[float], Any],
    *,
    start: float = 1e-7,
    end: float = 10.0,
    num: int = 100,
    beta: float | None = None,
    threshold: float = 1.0,
    stop_on_divergence: bool = True,
    progress: bool = False,
) -> RangeTestResult:
    """Run a learning-rate range test: one ``step(lr)`` per rate, rates growing from
    ``start`` to ``end``.

    Args:
        step: performs one update at rate ``lr`` and returns the loss (a float, or
            anything ``float()`` accepts, such as a 0-d tensor).
        start, end: the first and last rate (``0 < start < end``).
        num: the number of rates (and updates).
        beta: smoothing of the bias-corrected moving average; default
            :func:`default_beta` (about a tenth of the sweep).
        threshold: how far above its lowest level the loss must climb, in units of the
            curve's drop (or noise), to count as diverged (see ``DivergenceDetector``).
        stop_on_divergence: stop as soon as the loss blows up (a non-finite loss always
            stops the sweep).
        progress: show a progress bar on stderr.

    Returns:
        A :class:`RangeTestResult` with the curve, the edge and every rule's suggestion.
    """
    check_callable("step", step)
    lrs = sweep_rates(start, end, num)
    beta = default_beta(num) if beta is None else check_range("beta", beta, 0.0, 1.0, high_open=True)
    check_positive("threshold", threshold)
    detector = DivergenceDetector(threshold=threshold, beta=beta)
    tried: list[float] = []
    losses: list[float] = []
    stop_reason = "end"
    onset: int | None = None
    with progress_bar(num, "lrkit find", progress) as bar:
        for lr in lrs:
            loss = _as_loss(step(float(lr)))
            tried.append(float(lr))
            losses.append(loss)
            diverged = detector.update(loss)
            bar.update(1)
            bar.set_postfix(lr=f"{lr:.2e}", loss=f"{loss:.4g}")
            if not math.isfinite(loss):
                stop_reason = "nonfinite"
                onset = detector.onset if onset is None else onset
                logger.info("range test: non-finite loss %r at lr=%.3g, stopping", loss, lr)
                break
            if diverged and onset is None:
                onset = detector.onset
                if stop_on_divergence:
                    stop_reason = "diverged"
                    logger.info("range test: diverged at lr=%.3g (onset %.3g)", lr, lrs[onset])
                    break
    if onset is not None and stop_reason == "end":
        stop_reason = "diverged"
    return analyze(tried, losses, stop_reason=stop_reason, onset=onset, beta=beta,
                   settings={"start": float(start), "end": float(end), "num": int(num),
                             "beta": beta, "threshold": float(threshold)})


def _check_curve(lrs: Any, losses: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(lrs, losses)`` as float arrays: one loss per rate, rates finite, > 0, increasing."""
    try:
        lrs = np.asarray(lrs, dtype=float)
        losses = np.asarray(losses, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"`lrs` and `losses` must be sequences of numbers ({exc})") from None
    if lrs.ndim != 1 or losses.ndim != 1 or len(lrs) != len(losses) or not len(lrs):
        raise ValueError(f"`lrs` and `losses` must be 1-D with one loss per rate, but got "
                         f"shapes {lrs.shape} and {losses.shape}")
    if not (np.all(np.isfinite(lrs)) and np.all(lrs > 0) and np.all(np.diff(lrs) > 0)):
        raise ValueError("`lrs` must be finite, > 0 and increasing, but got "
                         f"lrs={lrs[:5].tolist()}{' ...' if len(lrs) > 5 else ''}")
    return lrs, losses


def _find_onset(losses: np.ndarray, threshold: float, beta: float) -> int | None:
    """The divergence test of :func:`range_test`, run over a recorded curve."""
    detector = DivergenceDetector(threshold=threshold, beta=beta)
    for loss in losses:
        diverged = detector.update(float(loss))
        if diverged or not math.isfinite(loss):
            return detector.onset
    return None


def _as_loss(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError(f"`step` must return the loss as a real number, but got {value!r}")
    if isinstance(value, numbers.Real):
        return float(value)
    shape = getattr(value, "shape", None)
    if shape is not None and tuple(shape) not in ((), (1,)):
        raise TypeError(
            f"`step` must return a scalar loss, but got a value of shape {tuple(shape)}"
        )
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(
            f"`step` must return the loss as a real number, but got {value!r}"
        ) from None


STOP_REASONS = ("end", "diverged", "nonfinite")


def analyze(
    lrs: Any,
    losses: Any,
    *,
    stop_reason: str | None = None,
    onset: int | None | str = "detect",
    beta: float = 0.9,
    threshold: float = 1.0,
    settings: dict[str, Any] | None = None,
) -> RangeTestResult:
    """Apply every rule to a recorded curve: ``lrs`` increasing, one loss per rate.

    ``onset`` is the index of the first point of the blow-up; ``"detect"`` (the default)
    runs the divergence test over the losses to find it, as :func:`range_test` does while
    it sweeps (``threshold``, ``beta``); None says the curve never blew up.
    ``stop_reason`` (``"end"``, ``"diverged"`` or ``"nonfinite"``) defaults to what the
    curve shows. The edge is the rate of the last update before the first raised loss (the
    loss at point ``onset`` was measured after the update made at ``lrs[onset - 1]``),
    refined from the growth rate of the blow-up
    (:func:`~lrkit.finder.divergence.growth_edge`).

    >>> lrs = np.geomspace(1e-4, 10, 60)
    >>> losses = [2.0 / (1 + 50 * lr) if lr < 0.5 else 1e3 * lr for lr in lrs]
    >>> result = analyze(lrs, losses)
    >>> result.stop_reason, 0.3 < result.divergence_lr < 0.6
    ('diverged', True)
    """
    lrs, losses = _check_curve(lrs, losses)
    beta = check_range("beta", beta, 0.0, 1.0, high_open=True)
    if onset == "detect":
        onset = _find_onset(losses, check_positive("threshold", threshold), beta)
    elif onset is not None:
        onset = check_int("onset", onset, minimum=0)
        if onset >= len(losses):
            raise ValueError(f"`onset` must index a point of the curve (< {len(losses)}), "
                             f"but got onset={onset}")
    if stop_reason is None:
        stop_reason = ("nonfinite" if not np.all(np.isfinite(losses))
                       else "end" if onset is None else "diverged")
    elif stop_reason not in STOP_REASONS:
        raise ValueError(f"`stop_reason` must be one of {', '.join(map(repr, STOP_REASONS))}, "
                         f"but got stop_reason={stop_reason!r}")
    smoothed = ema(losses, beta)
    divergence_lr = growth_edge(lrs, losses, onset)
    stop = len(lrs) if onset is None else onset
    note = _unreliable(losses, smoothed, stop, blew_up=onset is not None or stop_reason != "end")
    flat = note.startswith(_FLAT)
    suggestions: dict[str, float | None] = {
        "lrkit": rules.lrkit_default(lrs, losses, stop, divergence_lr, beta, flat=flat),
        "steepest": rules.steepest(lrs, smoothed, stop),
        "valley": rules.valley(lrs, smoothed, stop),
        "minimum/10": rules.minimum_tenth(lrs, smoothed, stop),
        "edge/3": rules.edge_fraction(divergence_lr, 1.0 / 3.0),
    }
    if flat and suggestions["lrkit"] is not None:
        suggestion = suggestions["lrkit"]
        note = ("the loss hardly fell before it blew up, so the suggestion is "
                f"{rules.FLAT_EDGE_FRACTION:.2g}x the divergence edge; raise `num` for a "
                "clearer curve")
    else:
        suggestion = None if note else suggestions["lrkit"]
    if suggestion is None and not note:
        note = "no rule could read the curve"
    if suggestion is not None and divergence_lr is None:
        note = ("the loss never blew up within the sweep, so the suggestion is capped at "
                f"{rules.NO_EDGE_FRACTION:g}x the last rate tried and the band reaches down to "
                "the rules that read the curve's shape; raise `end` for a sharper reading")
    band = None if suggestion is None else _band(suggestion, suggestions, divergence_lr)
    # lrkit's entry is its verdict: no rate beside "no reliable suggestion"
    suggestions["lrkit"] = suggestion
    return RangeTestResult(
        lrs=lrs, losses=losses, smoothed=smoothed, stop_reason=stop_reason,
        divergence_lr=divergence_lr, divergence_index=onset, suggestion=suggestion,
        suggestions=suggestions, band=band, note=note, settings=dict(settings or {}),
    )


_FLAT = "the loss never fell below its starting level"
_MIN_STEPS = 8  # fewer points than this before the blow-up (or the end) are not a curve


def _unreliable(losses: np.ndarray, smoothed: np.ndarray, stop: int, *,
                blew_up: bool = True) -> str:
    if stop < _MIN_STEPS:
        if not blew_up:  # the sweep was simply too short
            return (f"only {stop} steps, too few for the curve to take shape; raise `num` to "
                    f"{_MIN_STEPS} or more")
        return (f"the loss blew up after {stop} steps, before the curve took shape; "
                f"lower `start`")
    valid = smoothed[:stop]
    valid = valid[np.isfinite(valid)]
    start_level = float(np.median(losses[:3]))
    drop = start_level - float(valid.min())
    # the scatter before the blow-up (second differences cancel the trend)
    second = np.diff(losses[:stop], n=2)
    second = second[np.isfinite(second)]
    noise = float(1.4826 * np.median(np.abs(second)) / math.sqrt(6.0)) if second.size else 0.0
    tiny = 1e-9 * abs(start_level)  # float rounding of the losses themselves: relative
    if drop <= max(2.0 * noise, tiny):
        return (_FLAT + " by more than its noise; raise `end` or `num`, or check the model "
                "and data")
    return ""


def _band(suggestion: float, suggestions: dict[str, float | None],
          divergence_lr: float | None) -> tuple[float, float]:
    picks = [lr for lr in suggestions.values() if lr is not None and lr > 0]
    spread = float(np.std(np.log(picks))) if len(picks) > 1 else math.log(3.0)
    factor = min(10.0, max(1.25, math.exp(spread)))
    low, high = suggestion / factor, suggestion * factor
    if divergence_lr is not None:
        high = min(high, divergence_lr)
    else:
        # without an edge the suggestion is a cap, not a reading: where the curve fell
        # fastest (steepest, valley) is as good a guess, and on a loss that keeps falling as
        # the rate grows (logistic regression's) the best rate can sit down there
        low = min([low, *(suggestions[r] for r in ("steepest", "valley")
                          if suggestions.get(r) is not None)])
    return float(min(low, suggestion)), float(max(high, suggestion))
