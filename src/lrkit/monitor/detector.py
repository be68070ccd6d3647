"""The streaming detector: one cheap ``update`` per training step, a verdict with evidence.

Every step the monitor checks, in O(1) time:

* non-finite loss, gradient norm or update norm -> ``diverged``;
* a blow-up: ``loss > level + max(blowup_z * noise, blowup * progress, 0.1% of |level|)``,
  where ``level`` is the median loss of the window, ``noise`` the robust step-to-step scale
  ``1.4826 * MAD(diff(loss)) / sqrt(2)`` (insensitive to the downward trend) and
  ``progress`` how far the level has come down from the first losses. The test is
  relative to the recent level and to its robust scale, never "k times the best loss",
  so it is right for negative losses too.

Every ``check_every`` steps it refreshes the window statistics (medians of the two
halves, the trend's z-score ``z = (median_1st_half - median_2nd_half) / se``) and decides:

* ``diverged``: the loss lost more than ``blowup`` of the progress made (it went back up);
* ``too_high``: the loss rises significantly (``z < -z_significant``), or spikes often
  (more than ``max_spike_fraction`` of the window above ``level + spike_z * noise``), or
  oscillates (lag-1 autocorrelation of the detrended loss below ``-0.5``), or the
  gradient norm grows by more than ``grad_growth`` -- each without real progress;
* ``too_low``: steady significant decrease (``z > z_significant``) with no deceleration:
  the slope over the window is still at least ``slow_ratio`` of the average slope since
  the start, the signature of a rate that crawls;
* ``too_low`` is withheld when the window holds a jump of more than ``spike_z`` noise
  scales (a rate near the edge falls steadily between its spikes);
* ``plateau``: no significant progress over a full window while the rate is held
  (not decaying) -- the situation ``ReduceLROnPlateau`` reacts to -- and the window's fall
  is significantly short of the pace since the start (``z`` units of its standard error),
  or there was no significant progress since the start: a slow fall that keeps its pace
  but hides in one window's noise is not a plateau (lowering the rate would slow it);
* otherwise ``ok``.

A ``too_high`` verdict is given only when two of the last three checks (``check_every``
steps apart) reach it: one check's z-test at 3 noise units still fires on pure noise now and then
(0.2% of checks), and over a long run a single firing read as "too high" several times.
The other verdicts are given at the check that finds them (``too_low`` and ``plateau``
signals on short runs are often one check long).

Memory is the window (three ring buffers of ``window`` floats), whatever the run length.

>>> monitor = Monitor(window=20, warmup=10)
>>> verdicts = [monitor.update(1.0 / (1 + 0.5 * t)) for t in range(40)]
>>> verdicts[-1].status
'ok'
>>> monitor.update(float("nan")).status
'diverged'
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from lrkit._validation import check_int, check_number, check_positive, check_range
from lrkit.monitor.verdict import (
    DIVERGED,
    OK,
    PLATEAU,
    TOO_HIGH,
    TOO_LOW,
    Evidence,
    Verdict,
)

_MAD_TO_SIGMA = 1.4826
_MEDIAN_SE = 1.2533  # standard error of a median of k normal draws is 1.2533 * sigma / sqrt(k)
_START_POINTS = 5
_MIN_POINTS = 5
_REL_FLOOR = 1e-3  # smallest blow-up margin, relative to the loss magnitude (smooth losses)


class Monitor:
    """A framework-agnostic streaming detector of a learning rate that is wrong.

    Feed it once per optimizer step; it returns a :class:`~lrkit.monitor.Verdict`.

    Args:
        window: steps kept for the robust statistics (the only memory it uses).
        warmup: steps before trend verdicts (too_high / too_low / plateau) are given;
            non-finite values and blow-ups are caught from the start.
        check_every: refresh the window statistics every this many steps; between
            refreshes the last trend verdict stands (its ``step`` says when it was made).
        blowup: a loss that climbs back more than this fraction of the progress made is
            a divergence.
        blowup_z: ... or that jumps more than this many robust noise scales above the level.
        z_significant: z-score of the trend (half-window medians) taken as significant.
        spike_z: a spike is a loss this many noise scales above the level.
        max_spike_fraction: more spikes than this fraction of the window is too_high.
        grad_growth: gradient-norm growth (median 2nd half / 1st half) that is too_high.
        slow_ratio: recent slope / average slope since the start at or above which a
            steady decrease counts as too_low.
        backoff, too_high_factor, too_low_factor, plateau_factor: the recommended rate
            factor of each verdict (``backoff`` for diverged).

    >>> m = Monitor()
    >>> m.update(2.3, grad_norm=1.0, lr=1e-3).status
    'ok'
    """

    def __init__(
        self,
        *,
        window: int = 60,
        warmup: int = 30,
        check_every: int = 20,
        blowup: float = 0.5,
        blowup_z: float = 25.0,
        z_significant: float = 3.0,
        spike_z: float = 8.0,
        max_spike_fraction: float = 0.05,
        grad_growth: float = 4.0,
        slow_ratio: float = 0.5,
        backoff: float = 0.5,
        too_high_factor: float = 0.5,
        too_low_factor: float = 3.0,
        plateau_factor: float = 0.5,
    ) -> None:
        # the trend checks need 10 losses: a smaller window would never give one
        self.window = check_int("window", window, minimum=2 * _MIN_POINTS)
        self.warmup = check_int("warmup", warmup, minimum=0)
        self.check_every = check_int("check_every", check_every, minimum=1)
        self.blowup = check_positive("blowup", blowup)
        self.blowup_z = check_positive("blowup_z", blowup_z)
        self.z_significant = check_positive("z_significant", z_significant)
        self.spike_z = check_positive("spike_z", spike_z)
        self.max_spike_fraction = check_range("max_spike_fraction", max_spike_fraction, 0.0, 1.0)
        self.grad_growth = check_range("grad_growth", grad_growth, 1.0, math.inf, low_open=True,
                                       high_open=True)
        self.slow_ratio = check_positive("slow_ratio", slow_ratio)
        self.backoff = check_range("backoff", backoff, 0.0, 1.0, low_open=True, high_open=True)
        self.too_high_factor = check_range("too_high_factor", too_high_factor, 0.0, 1.0,
                                           low_open=True, high_open=True)
        self.too_low_factor = check_range("too_low_factor", too_low_factor, 1.0, math.inf,
                                          low_open=True, high_open=True)
        self.plateau_factor = check_range("plateau_factor", plateau_factor, 0.0, 1.0,
                                          low_open=True)
        self.reset()

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Forget everything seen so far."""
        self._step = 0
        self._losses: deque[float] = deque(maxlen=self.window)
        self._grads: deque[float] = deque(maxlen=self.window)
        self._lrs: deque[float] = deque(maxlen=self.window)
        self._first: list[float] = []
        self._start = math.nan
        self._best = math.inf
        self._lr_max = 0.0
        self._lr_sum = 0.0
        self._level = math.nan
        self._noise = math.nan
        self._blowup_at = math.inf
        self._blowup_margin = math.inf
        self._trend = Verdict(OK, 0)
        self._candidate = OK  # the status the last check reached, confirmed or not
        self._before = OK  # the one before it

    @property
    def candidate(self) -> str:
        """The status the last check reached, before confirmation: a ``too_high`` found once
        is reported as ``ok`` until the next check agrees, but a Guard should not snapshot
        in between."""
        return self._candidate

    @property
    def step(self) -> int:
        """How many updates the monitor has seen."""
        return self._step

    @property
    def level(self) -> float:
        """The median loss of the window at the last refresh (nan before the first)."""
        return self._level

    @property
    def noise(self) -> float:
        """The robust step-to-step noise scale of the loss at the last refresh."""
        return self._noise

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume (the window included): a few kilobytes of plain
        Python values (safe for ``torch.load(weights_only=True)``, and for JSON as Python's
        ``json`` writes it: early on it holds NaN and Infinity, which strict JSON lacks)."""
        return {
            "step": self._step,
            "losses": list(self._losses),
            "grads": list(self._grads),
            "lrs": list(self._lrs),
            "first": list(self._first),
            "start": self._start,
            "best": self._best,
            "lr_max": self._lr_max,
            "lr_sum": self._lr_sum,
            "level": self._level,
            "noise": self._noise,
            "blowup_at": self._blowup_at,
            "blowup_margin": self._blowup_margin,
            "trend": self._trend.to_dict(),
            "candidate": self._candidate,
            "before": self._before,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Put back what :meth:`state_dict` returned."""
        missing = sorted(_STATE_KEYS - set(state)) if isinstance(state, dict) else None
        if missing is None or missing:
            raise ValueError("`state` must be a Monitor.state_dict(), but got "
                             + (f"one without {', '.join(missing)}" if missing else f"state={state!r}"))
        self._step = int(state["step"])
        self._losses = deque(state["losses"], maxlen=self.window)
        self._grads = deque(state["grads"], maxlen=self.window)
        self._lrs = deque(state["lrs"], maxlen=self.window)
        self._first = list(state["first"])
        self._start = float(state["start"])
        self._best = float(state["best"])
        self._lr_max = float(state["lr_max"])
        self._lr_sum = float(state["lr_sum"])
        self._level = float(state["level"])
        self._noise = float(state["noise"])
        self._blowup_at = float(state["blowup_at"])
        self._blowup_margin = float(state["blowup_margin"])
        trend = state["trend"]
        self._trend = trend if isinstance(trend, Verdict) else Verdict(
            trend["status"], int(trend["step"]), float(trend["factor"]),
            tuple(Evidence(**e) for e in trend["evidence"]),
        )
        self._candidate = str(state.get("candidate", self._trend.status))  # older states lack it
        self._before = str(state.get("before", OK))

    # ------------------------------------------------------------------ per step
    def update(
        self,
        loss: float,
        *,
        grad_norm: float | None = None,
        update_norm: float | None = None,
        lr: float | None = None,
    ) -> Verdict:
        """Record one step and return the verdict.

        ``loss`` is the training loss of the step (anything ``float()`` accepts, e.g. a
        0-d tensor); ``grad_norm``, ``update_norm`` and ``lr`` are optional and sharpen the
        diagnosis. A diverged step is not added to the window, so the statistics stay
        those of the healthy run (what a rollback returns to).
        """
        x = check_number("loss", loss)
        g = math.nan if grad_norm is None else _norm("grad_norm", grad_norm)
        u = None if update_norm is None else _norm("update_norm", update_norm)
        if lr is not None:
            lr = check_number("lr", lr)
            if not (math.isfinite(lr) and lr >= 0.0):
                raise ValueError(f"`lr` must be finite and >= 0, but got lr={lr!r}")
        step = self._step
        self._step = step + 1
        if not math.isfinite(x):
            return self._diverged(step, "non_finite_loss", x, f"the loss is {x}")
        if grad_norm is not None:
            if not math.isfinite(g):
                return self._diverged(step, "non_finite_grad", g, f"the gradient norm is {g}")
        if u is not None:
            if not math.isfinite(u):
                return self._diverged(step, "non_finite_update", u, f"the update norm is {u}")
        if x > self._blowup_at:
            return Verdict(DIVERGED, step, self.backoff, (Evidence(
                "blow_up", x, self._blowup_at, len(self._losses),
                f"the loss {x:.4g} jumped above {self._blowup_at:.4g} (recent median "
                f"{self._level:.4g} + {self._blowup_margin:.4g})",
            ),))
        self._losses.append(x)
        if grad_norm is not None:
            self._grads.append(g)
        if lr is not None:
            self._lrs.append(lr)
            self._lr_sum += lr
            if lr > self._lr_max:
                self._lr_max = lr
        if len(self._first) < _START_POINTS:
            if not self._first:
                # until the window has statistics, a jump of blowup_z times the first
                # loss's magnitude is a blow-up
                self._blowup_margin = self.blowup_z * max(abs(x), 1e-8)
                self._blowup_at = x + self._blowup_margin
                self._level = x
            self._first.append(x)
            if len(self._first) == _START_POINTS:
                self._start = _median(self._first)
        n = len(self._losses)
        if n >= _MIN_POINTS and (n < 2 * _MIN_POINTS or step % self.check_every == 0):
            found = self._refresh(step)
            # two of the last three checks: a real drift that flickers with ok still counts
            confirmed = found.status != TOO_HIGH or TOO_HIGH in (self._candidate, self._before)
            self._before, self._candidate = self._candidate, found.status
            self._trend = found if confirmed else Verdict(OK, step)
        return self._trend

    def _diverged(self, step: int, check: str, value: float, detail: str) -> Verdict:
        return Verdict(DIVERGED, step, self.backoff,
                       (Evidence(check, value, math.inf, 1, detail),))

    # ------------------------------------------------------------------ window statistics
    def _refresh(self, step: int) -> Verdict:
        # pure Python: on a window of tens of values it is several times faster than numpy
        a = list(self._losses)
        n = len(a)
        level = _median(a)
        d = [y - x for x, y in zip(a, a[1:], strict=False)]
        md = _median(d)
        noise = _MAD_TO_SIGMA * _median([abs(x - md) for x in d]) / math.sqrt(2.0)
        start = self._start if math.isfinite(self._start) else a[0]
        magnitude = max(abs(level), abs(start))
        noise = max(noise, 1e-9 * magnitude, 1e-300)  # rounding of the losses: relative
        self._level, self._noise = level, noise
        best_before = self._best
        if level < self._best:
            self._best = level
        progress = max(start - self._best, 0.0)
        margin = max(self.blowup_z * noise, self.blowup * progress, _REL_FLOOR * magnitude)
        self._blowup_margin = margin
        self._blowup_at = level + margin
        if step < self.warmup or n < max(_MIN_POINTS * 2, self.window // 2):
            return Verdict(OK, step)

        h = n // 2
        m1 = _median(a[:h])
        m2 = _median(a[n - h:])
        se = _MEDIAN_SE * noise * math.sqrt(2.0 / h)
        z = (m1 - m2) / se

        # diverged: the loss went back up by more than `blowup` of the progress made
        regress_margin = max(self.blowup * progress, self.blowup_z * noise, _REL_FLOOR * magnitude)
        regress = m2 - self._best
        if regress > regress_margin:
            return Verdict(DIVERGED, step, self.backoff, (Evidence(
                "loss_regressed", regress, regress_margin, n,
                f"the recent median loss {m2:.4g} is {regress:.4g} above the best level "
                f"{self._best:.4g} (threshold {regress_margin:.4g})",
            ),))

        progressing = z >= self.z_significant
        evidence = []
        if z < -self.z_significant:
            evidence.append(Evidence(
                "loss_rising", -z, self.z_significant, n,
                f"the loss rose from median {m1:.4g} to {m2:.4g} (z={-z:.3g} > "
                f"{self.z_significant:g})",
            ))
        if not progressing:
            spike_at = level + self.spike_z * noise
            spikes = sum(1 for x in a if x > spike_at) / n
            if spikes > self.max_spike_fraction:
                evidence.append(Evidence(
                    "spikes", spikes, self.max_spike_fraction, n,
                    f"{spikes:.0%} of the last {n} losses spiked more than {self.spike_z:g} "
                    f"noise scales above the median {level:.4g}",
                ))
            if len(self._grads) >= max(_MIN_POINTS * 2, self.window // 2):
                g = list(self._grads)
                gh = len(g) // 2
                g1 = _median(g[:gh])
                g2 = _median(g[len(g) - gh:])
                growth = g2 / g1 if g1 > 0 else math.inf
                if growth > self.grad_growth:
                    evidence.append(Evidence(
                        "grad_growth", growth, self.grad_growth, len(g),
                        f"the gradient norm grew {growth:.3g}x over the last {len(g)} steps",
                    ))
            rho = _lag1_autocorrelation_detrended(a)
            if rho is not None:
                if rho < -0.5:
                    evidence.append(Evidence(
                        "oscillation", rho, -0.5, n,
                        f"the loss alternates up and down (lag-1 autocorrelation {rho:.2f})",
                    ))
        if evidence:
            return Verdict(TOO_HIGH, step, self.too_high_factor, tuple(evidence))

        if n == self.window and step >= self.window + self.window // 2:
            window_span, elapsed_span = self._spans(n, h, step)
            # the fall the window would show at the average pace since the start
            expected = (start - m2) * window_span / elapsed_span
            if progressing and m2 <= best_before and self._rate_not_annealed():
                # a loss still above where it started has made no progress to compare with
                ratio = (m1 - m2) / expected if expected > 0 else 0.0
                # a rate near the edge falls steadily between its spikes: not too low
                jumps = sum(1 for x in d if x > self.spike_z * noise)
                if ratio >= self.slow_ratio and not jumps:
                    return Verdict(TOO_LOW, step, self.too_low_factor, (Evidence(
                        "slow_steady_progress", ratio, self.slow_ratio, n,
                        f"the loss still falls at {ratio:.2f}x its average pace since the start "
                        f"(no deceleration; z={z:.3g}): the rate is holding training back",
                    ),))
            elif self._rate_held() and self._stalled(start, m1, m2, expected, se, h):
                return Verdict(PLATEAU, step, self.plateau_factor, (Evidence(
                    "flat", z, self.z_significant, n,
                    f"no significant progress over {n} steps (median {m1:.4g} -> {m2:.4g}, "
                    f"z={z:.3g} < {self.z_significant:g}) "
                    + ("at a held rate (within 10% over the window)" if self._lrs
                       else "(the rate is unknown: no lr was given)"),
                ),))
        return Verdict(OK, step)

    def _spans(self, n: int, h: int, step: int) -> tuple[float, float]:
        """What the window's fall (first half's median to second half's) and the fall since
        the start are measured over: steps, or summed rates when the rates are known, so
        that a decaying schedule does not read as deceleration."""
        if len(self._lrs) == n and self._lr_sum > 0:
            window_lr = float(sum(self._lrs))
            elapsed = self._lr_sum - window_lr * (h / 2) / n
            return max(window_lr * (n - h) / n, 1e-300), max(elapsed, 1e-300)
        return float(n - h), float(max(step - _START_POINTS // 2, 1))

    def _stalled(self, start: float, m1: float, m2: float, expected: float, se: float,
                 h: int) -> bool:
        """True when the window's fall is significantly short of the pace since the start
        (training slowed down: a plateau), or when there was no significant progress since
        the start at all. A slow fall that keeps its pace but hides in the noise of one
        window is neither: lowering the rate would only slow it further."""
        if (expected - (m1 - m2)) >= self.z_significant * se:
            return True
        se_progress = _MEDIAN_SE * self._noise * math.sqrt(1.0 / _START_POINTS + 1.0 / h)
        return start - m2 < self.z_significant * se_progress

    def _rate_not_annealed(self) -> bool:
        """False once a schedule has brought the rate far below its peak: crawling is then
        what annealing is for, not a sign of a rate that is too low."""
        return not self._lrs or self._lrs[-1] >= 0.3 * self._lr_max

    def _rate_held(self) -> bool:
        """True unless the rates seen moved by more than 10% over the window (a schedule
        annealing the rate, or a warmup raising it) or sit far below their peak."""
        if len(self._lrs) < 2:
            return True
        first, last = self._lrs[0], self._lrs[-1]
        return 0.9 * first <= last <= 1.1 * first and last >= 0.2 * self._lr_max


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    half = n // 2
    return ordered[half] if n % 2 else 0.5 * (ordered[half - 1] + ordered[half])


def _lag1_autocorrelation_detrended(a: list[float]) -> float | None:
    """Lag-1 autocorrelation of ``a`` minus its least-squares line (None if ``a`` is a line)."""
    n = len(a)
    centre = (n - 1) / 2.0
    mean = sum(a) / n
    slope = sum((i - centre) * x for i, x in enumerate(a)) / (n * (n * n - 1) / 12.0)
    resid = [x - mean - slope * (i - centre) for i, x in enumerate(a)]
    denom = sum(r * r for r in resid)
    if denom <= 0:
        return None
    return sum(x * y for x, y in zip(resid, resid[1:], strict=False)) / denom


_STATE_KEYS = frozenset({"step", "losses", "grads", "lrs", "first", "start", "best", "lr_max",
                         "lr_sum", "level", "noise", "blowup_at", "blowup_margin", "trend"})


def _norm(name: str, value: Any) -> float:
    """A norm: a number that is not negative (NaN and inf pass: they are divergence)."""
    norm = check_number(name, value)
    if norm < 0:
        raise ValueError(f"`{name}` must be >= 0 (a norm), but got {name}={norm!r}")
    return norm

