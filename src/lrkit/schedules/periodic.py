"""Shapes that go up as well as down: cosine_restarts (SGDR), cyclic (CLR) and one_cycle."""

from __future__ import annotations

import math

import numpy as np

from lrkit._validation import check_choice, check_range
from lrkit.schedules.base import Schedule, check_steps
from lrkit.schedules.decay import check_final, check_total_steps

__all__ = ["cosine_restarts", "cyclic", "one_cycle"]


def _as_float(n: int) -> float:
    """``float(n)``, or ``inf`` for an integer past the largest float."""
    try:
        return float(n)
    except OverflowError:
        return math.inf


class CosineRestarts(Schedule):
    name = "cosine_restarts"
    positional = ("period",)
    defaults = {"mult": 1, "decay": 1.0, "final": 0.0}

    def _cycle(self, t: float) -> tuple[int, float, float]:
        """(cycle index, step inside the cycle, cycle length) for step ``t``."""
        period, mult = self._params["period"], self._params["mult"]
        if mult == 1:
            index, tau = divmod(t, period)
            return int(index), tau, period
        index, start, length = 0, 0, period
        while t >= start + length:  # cycles grow geometrically: O(log t) iterations
            start += length
            length *= mult
            index += 1
        return index, t - start, length

    def _scalar(self, t: float) -> float:
        p = self._params
        index, tau, length = self._cycle(t)
        amplitude = (1.0 - p["final"]) * (p["decay"] ** index if p["decay"] != 1.0 else 1.0)
        # near the largest float a cycle may be longer than any float: it has barely begun
        fraction = tau / _as_float(length)
        return p["final"] + amplitude * 0.5 * (1.0 + math.cos(math.pi * fraction))

    def _array(self, t: np.ndarray) -> np.ndarray:
        p = self._params
        period, mult = float(p["period"]), p["mult"]
        if mult == 1:
            index, tau = np.divmod(t, period)  # exactly as the scalar path's divmod
            length = np.full(t.shape, period)
        else:
            # the cycle starts, summed exactly in integers (a closed form such as
            # period * (mult**i - 1) / (mult - 1) rounds in float64 and misplaces restarts
            # far out), then the cycle of each step by bisection: O(log t) starts
            starts, lengths, start, cycle = [], [], 0, int(p["period"])
            top = float(np.max(t)) if t.size else 0.0
            while start <= top:
                starts.append(_as_float(start))
                lengths.append(_as_float(cycle))
                start += cycle
                cycle *= mult
            cycles = np.searchsorted(np.array(starts), t, side="right") - 1
            tau = t - np.array(starts)[cycles]
            length = np.array(lengths)[cycles]
            index = cycles.astype(np.float64)
        amplitude = (1.0 - p["final"]) * np.power(p["decay"], index)
        fraction = tau / length  # a cycle longer than any float has barely begun: 0
        return p["final"] + amplitude * 0.5 * (1.0 + np.cos(np.pi * fraction))


def cosine_restarts(period: int, mult: int = 1, decay: float = 1.0, final: float = 0.0) -> Schedule:
    """Cosine annealing with warm restarts (SGDR): cycle ``i`` lasts ``period * mult**i`` steps.

    Inside cycle ``i``, at step ``tau`` of it: ``s = final + (1 - final) * decay**i *
    (1 + cos(pi * tau / (period * mult**i))) / 2``. Each cycle restarts at its peak, and the
    height above ``final`` shrinks by ``decay`` per cycle (``decay=1``: every peak is 1). With
    ``decay=1`` this is ``torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(T_0=period,
    T_mult=mult, eta_min=final * base_lr)``. Periodic: no horizon.

    >>> s = cosine_restarts(10, decay=0.5)
    >>> s(0), s(5), s(10), s(20)
    (1.0, 0.5, 0.5, 0.25)
    """
    return CosineRestarts(
        period=check_steps("period", period, minimum=1),
        mult=check_steps("mult", mult, minimum=1),
        decay=check_range("decay", decay, 0.0, 1.0, low_open=True),
        final=check_final(final),
    )


class Cyclic(Schedule):
    name = "cyclic"
    positional = ("period", "low")
    defaults = {"mode": "triangular", "gamma": 1.0}

    def _scalar(self, t: float) -> float:
        p = self._params
        # the same operations, in the same order, as torch's CyclicLR (ratio 1/2)
        cycle = math.floor(1 + t / p["period"])
        x = 1.0 + t / p["period"] - cycle
        factor = x / 0.5 if x <= 0.5 else (x - 1) / (0.5 - 1)
        if p["mode"] == "triangular":
            scale = 1.0
        elif p["mode"] == "triangular2":
            # past ~1075 halvings the scale underflows to 0; 2.0 ** n would overflow instead
            scale = 1 / (2.0 ** (cycle - 1)) if cycle < 1100 else 0.0
        else:
            scale = p["gamma"] ** t
        return p["low"] + (1.0 - p["low"]) * factor * scale

    def _array(self, t: np.ndarray) -> np.ndarray:
        p = self._params
        cycle = np.floor(1 + t / p["period"])
        x = 1.0 + t / p["period"] - cycle
        factor = np.where(x <= 0.5, x / 0.5, (x - 1) / (0.5 - 1))
        if p["mode"] == "triangular":
            scale = np.ones_like(t)
        elif p["mode"] == "triangular2":
            scale = np.exp2(-(cycle - 1))
        else:
            scale = np.power(p["gamma"], t)
        return p["low"] + (1.0 - p["low"]) * factor * scale


def cyclic(period: int, low: float, mode: str = "triangular", gamma: float = 1.0) -> Schedule:
    """Cyclical rates (CLR): up from ``low`` to 1 in ``period/2`` steps, down again, repeat.

    ``x`` is the position in the current cycle, in [0, 1); the triangle is ``h = 2x`` on the
    way up and ``2 - 2x`` on the way down, and ``s = low + (1 - low) * h * scale`` where
    ``scale`` is 1 (``mode="triangular"``), halves every cycle (``"triangular2"``) or is
    ``gamma**t`` (``"exp_range"``). Same as ``torch.optim.lr_scheduler.CyclicLR(
    base_lr=low * max_lr, max_lr, step_size_up=period/2, mode=mode, gamma=gamma)`` with the
    optimizer's rate as ``max_lr``. Periodic: no horizon.

    >>> s = cyclic(10, 0.1)
    >>> s(0), s(5), s(10)
    (0.1, 1.0, 0.1)
    """
    mode = check_choice("mode", mode, ("triangular", "triangular2", "exp_range"))
    gamma = check_range("gamma", gamma, 0.0, 1.0, low_open=True)
    if mode != "exp_range" and gamma != 1.0:
        raise ValueError(f"`gamma` must be 1 unless mode='exp_range', but got gamma={gamma!r}")
    return Cyclic(
        period=check_steps("period", period, minimum=2),
        low=check_range("low", low, 0.0, 1.0),
        mode=mode,
        gamma=gamma,
    )


class OneCycle(Schedule):
    name = "one_cycle"
    positional = ("total_steps",)
    defaults = {
        "warmup_steps": None,
        "initial": 0.04,
        "final": 4e-06,
        "anneal": "cosine",
        "three_phase": False,
    }

    def _default(self, key: str, default: object) -> object:
        if key == "warmup_steps":
            return _default_one_cycle_warmup(self._params["total_steps"])
        return default

    def _phases(self) -> list[tuple[float, float, float]]:
        """(end step, start value, end value) of each phase, as torch's OneCycleLR lays them out."""
        p = self._params
        w, total = p["warmup_steps"], p["total_steps"]
        if p["three_phase"]:
            return [
                (w - 1.0, p["initial"], 1.0),
                (2.0 * w - 2.0, 1.0, p["initial"]),
                (total - 1.0, p["initial"], p["final"]),
            ]
        return [(w - 1.0, p["initial"], 1.0), (total - 1.0, 1.0, p["final"])]

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self._params["anneal"] == "cosine":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def _scalar(self, t: float) -> float:
        phases = self._phases()
        if t >= phases[-1][0]:
            return self._params["final"]
        start_step = 0.0
        for end_step, start, end in phases:
            if t <= end_step:
                pct = 1.0 if end_step == start_step else (t - start_step) / (end_step - start_step)
                return self._anneal(start, end, pct)
            start_step = end_step
        return self._params["final"]  # pragma: no cover - t beyond the last phase returns above

    def _array(self, t: np.ndarray) -> np.ndarray:
        out = np.full(t.shape, self._params["final"], dtype=np.float64)
        done = np.zeros(t.shape, dtype=bool)
        start_step = 0.0
        phases = self._phases()
        done |= t >= phases[-1][0]
        for end_step, start, end in phases:
            here = ~done & (t <= end_step)
            if end_step == start_step:
                pct = np.ones(int(here.sum()))
            else:
                pct = (t[here] - start_step) / (end_step - start_step)
            if self._params["anneal"] == "cosine":
                out[here] = end + (start - end) / 2.0 * (np.cos(np.pi * pct) + 1)
            else:
                out[here] = (end - start) * pct + start
            done |= here
            start_step = end_step
        return out

    @property
    def horizon(self) -> int:
        return self._params["total_steps"] - 1


def _default_one_cycle_warmup(total_steps: int) -> int:
    return max(1, round(0.3 * total_steps))


def one_cycle(
    total_steps: int,
    warmup_steps: int | None = None,
    initial: float = 0.04,
    final: float = 4e-06,
    anneal: str = "cosine",
    three_phase: bool = False,
) -> Schedule:
    """The 1cycle policy: up from ``initial`` to 1, then down to ``final`` at the last step.

    The rise spans steps 0..``warmup_steps - 1`` (default: 30% of ``total_steps``), the fall
    reaches ``final`` at step ``total_steps - 1``; with ``three_phase=True`` the rate comes
    back down to ``initial`` at step ``2 * warmup_steps - 2`` and then anneals to ``final``.
    Each phase interpolates with ``anneal`` ("cosine": ``end + (start - end) * (1 + cos(pi *
    pct)) / 2``, or "linear"). ``total_steps`` includes the warmup. Same as
    ``torch.optim.lr_scheduler.OneCycleLR(max_lr=base_lr, total_steps, pct_start=warmup_steps
    / total_steps, div_factor=1/initial, final_div_factor=initial/final)``, except that past
    the last step lrkit holds ``final`` where torch raises.

    >>> s = one_cycle(100, warmup_steps=30)
    >>> round(s(0), 12), s(29), s(99), s(10**9)
    (0.04, 1.0, 4e-06, 4e-06)
    """
    total_steps = check_steps("total_steps", total_steps, minimum=2)
    if warmup_steps is None:
        warmup_steps = _default_one_cycle_warmup(total_steps)
    warmup_steps = check_steps("warmup_steps", warmup_steps, minimum=1)
    if not isinstance(three_phase, bool):
        raise TypeError(f"`three_phase` must be True or False, but got three_phase={three_phase!r}")
    limit = total_steps // 2 if three_phase else total_steps - 1
    if warmup_steps > limit:
        raise ValueError(
            f"`warmup_steps` must be <= {limit} for total_steps={total_steps}"
            f"{' with three_phase=True' if three_phase else ''}, but got warmup_steps={warmup_steps!r}"
        )
    initial = check_range("initial", initial, 0.0, 1.0, low_open=True)
    final = check_range("final", final, 0.0, initial)
    return OneCycle(
        total_steps=check_total_steps(total_steps),
        warmup_steps=warmup_steps,
        initial=initial,
        final=final,
        anneal=check_choice("anneal", anneal, ("cosine", "linear")),
        three_phase=three_phase,
    )
