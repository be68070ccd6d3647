"""The hands-off algorithm: find the stability edge, race peak rates below it on the
schedule compressed to a short horizon, then train once at the winner.

It is framework-agnostic: it drives a :class:`Session` (one update at a given rate, an
evaluation on held-back batches, snapshot and restore) and never imports torch. The
cost of every phase is charged to a :class:`~lrkit.auto.budget.Meter` whose limit is
``floor(budget * steps)`` loss-function calls, so the total can never exceed it.

Phases, for a run of ``steps`` steps and ``extra = floor(budget * steps) - steps``:

1. edge: a geometric range test (``edge_steps`` updates at most, about 30% of
   ``extra``) finds the rate where training blows up, ``edge``.
2. race: at most ``slots`` candidates on the lattice ``edge * 3**k`` (``k <= 0``) each run the
   schedule compressed to ``horizon`` steps from the same snapshot on the same batches,
   and are scored on held-back batches. When the range test hardly lowered the loss at
   any rate (``Edge.progress`` under ``plateau_progress``, 15%), the problem sits on a
   plateau that a race shorter than a tenth of the run (``plateau_horizon``) cannot
   leave, and at most ``plateau_slots`` (3) candidates race, each for longer. The race
   walks: it starts at ``edge/9`` and ``edge/3``, moves a lattice step at a time towards
   the better one until a candidate scores no better, then spends the slots left half a
   step either side of the best (:func:`~lrkit.auto.race.walk_race`). A parabola through
   the winner and its neighbours (in log rate) refines it between the raced rates.
   The winner is then combined with the range test's own suggestion: the race's short
   horizon biases it (in either direction, depending on the problem), the range test's
   rule is calibrated on full runs but noisy. When the two agree within a factor
   ``agree_within`` (3), their geometric mean is taken; when they disagree by more, one
   of them is broken and the lower is taken (a rate too low costs speed, one too high can
   cost the run).
   A session may report (``rate_gain(horizon, steps)``) that its optimizer takes larger
   steps over a short run than over a long one at the same nominal rate (AdaGrad, whose
   denominator sums squared gradients: ``sqrt(steps / horizon)``); the race's winner is
   then scaled up by that gain, never above the edge where the sweep blew up, before it
   meets the suggestion.
3. final: the pick trains the model for ``steps`` steps on the full schedule. If the
   loss blows up, training goes back to the older of its two checkpoints at a lower
   scale (as far below as the blow-up's growth says the edge is, else half), while budget
   lasts; a batch that blows up at any rate is passed over instead (see
   :func:`_final_run`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from lrkit._validation import check_int, check_positive
from lrkit.auto.backoff import backoff_factor
from lrkit.auto.blowup import BlowUp
from lrkit.auto.budget import DEFAULT_BUDGET, Meter, check_budget
from lrkit.auto.edge import Edge, find_edge
from lrkit.auto.race import compressed_multipliers, parabola_minimum, walk_race

#: the final run's step back after a blow-up whose growth cannot be read
HALVING = 0.5
#: batches in a row the final run passes over on one checkpoint's weights before it takes
#: the weights, not the batches, to be at fault
MAX_PASS_OVERS = 3


class Session(Protocol):
    """What the algorithm needs from a framework adapter.

    ``step(lr)`` performs one training update with every group at ``lr`` times its
    base ratio and returns the training loss (one loss-function call), taken before the
    update; when that loss is not finite it makes no update; ``evaluate()``
    returns the loss on held-back batches and costs ``eval_cost`` calls; ``snapshot()``
    returns a token that ``restore(token)`` puts back exactly (weights, optimizer
    state, random generators and the position in the data). A session may also define
    ``rewind()``, called before the final run, to read its data from the first batch again,
    ``skip()``, to pass over the next batch without a loss call (used for a batch that
    blows up at any rate), and ``rate_gain(horizon, steps)``, how much larger its
    optimizer's steps are over a run of ``horizon`` steps than over one of ``steps`` at the
    same nominal rate (1 when they are the same).
    """

    eval_cost: int

    def step(self, lr: float) -> float: ...

    def evaluate(self) -> float: ...

    def snapshot(self) -> Any: ...

    def restore(self, token: Any) -> None: ...


@dataclass(frozen=True)
class Decision:
    """One entry of the history: the phase, what was decided and why, with the numbers."""

    phase: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    """Knobs of the search (the defaults are the measured ones; see docs/auto.md)."""

    edge_start: float = 1e-6
    edge_end: float = 10.0
    edge_fraction: float = 0.3
    edge_min_steps: int = 12
    edge_max_steps: int = 60
    slots: int = 5
    spacing: float = 3.0
    walk_start: int = -2
    min_horizon: int = 8
    fallback_fraction: float = 0.1
    checkpoints: int = 20
    blend: bool = True
    agree_within: float = 3.0
    #: a sweep that lowered the loss by less than this fraction of its start
    #: (:attr:`Edge.progress`) is on a plateau: a race shorter than ``plateau_horizon``
    #: of the run then runs at most ``plateau_slots`` candidates, each for longer
    plateau_progress: float = 0.15
    plateau_horizon: float = 0.1
    plateau_slots: int = 3


@dataclass(frozen=True)
class Outcome:
    """What the algorithm decided and what the final run did."""

    lr: float
    edge: Edge | None
    candidates: tuple[tuple[float, float], ...]
    horizon: int
    lrs: tuple[float, ...]
    losses: tuple[float, ...]
    steps: int
    spent: int
    limit: int
    by_phase: dict[str, int]
    history: tuple[Decision, ...]
    final_scale: float


def plan_search(
    steps: int, budget: float, eval_cost: int, settings: Settings
) -> tuple[int, int, int, int]:
    """``(limit, edge_steps, horizon, slots)`` for a run of ``steps`` under ``budget``.

    The race gets what the edge leaves of ``extra = limit - steps``, split evenly among
    ``slots`` candidates; when that gives fewer than ``settings.min_horizon`` steps each,
    fewer candidates race. ``horizon`` and ``slots`` are 0 (no race) when not even two can;
    ``edge_steps`` is 0 when the budget cannot pay for the edge either.

    A 200-step run at 1.5x, each evaluation costing 4 calls: 300 calls in all, a 30-step
    range test, then 5 candidates of 10 steps (5 * (10 + 4) = 70 calls):

    >>> plan_search(200, 1.5, 4, Settings())
    (300, 30, 10, 5)
    """
    limit = int(math.floor(budget * steps + 1e-9))
    extra = limit - steps
    edge_steps = int(min(settings.edge_max_steps, max(settings.edge_min_steps,
                                                         round(settings.edge_fraction * extra))))
    if extra < edge_steps:
        return limit, 0, 0, 0
    for slots in range(settings.slots, 1, -1):
        # a race longer than the run itself tells nothing more (and a huge budget must
        # not make it endless)
        horizon = min(steps, (extra - edge_steps) // slots - eval_cost)
        if horizon >= settings.min_horizon:
            return limit, edge_steps, horizon, slots
    return limit, edge_steps, 0, 0


def run_auto(
    session: Session,
    steps: int,
    schedule: Callable[[int], float],
    *,
    budget: float = DEFAULT_BUDGET,
    settings: Settings | None = None,
) -> Outcome:
    """Search a peak rate and train ``steps`` steps at it on ``schedule``; see the module doc.

    Any :class:`Session` will do; here gradient descent on ``f(w) = h w**2 / 2``, whose
    stability edge is ``2/h``:

    >>> from lrkit.problems import default_schedule
    >>> class Quadratic:
    ...     eval_cost = 1
    ...     def __init__(self, h):
    ...         self.h, self.w = h, 1.0
    ...     def step(self, lr):
    ...         loss = self.h * self.w ** 2 / 2
    ...         self.w -= lr * self.h * self.w
    ...         return loss
    ...     def evaluate(self):
    ...         return self.h * self.w ** 2 / 2
    ...     def snapshot(self):
    ...         return self.w
    ...     def restore(self, token):
    ...         self.w = token
    >>> session = Quadratic(h=4.0)
    >>> outcome = run_auto(session, 200, default_schedule(200))
    >>> 0.4 < outcome.edge.top < 0.6 and outcome.lr < 0.5   # below the edge 2/h = 0.5
    True
    >>> outcome.spent <= outcome.limit == 300 and abs(session.w) < 1e-9
    True
    """
    steps = check_int("steps", steps, minimum=1)
    budget = check_budget("budget", budget)
    settings = settings or Settings()
    eval_cost = check_int("eval_cost", session.eval_cost, minimum=0)
    limit, edge_steps, horizon, slots = plan_search(steps, budget, eval_cost, settings)
    meter = Meter(limit)
    history: list[Decision] = []
    start = session.snapshot()

    try:
        edge, lr, candidates, horizon = _search(session, steps, schedule, budget, settings,
                                                meter, history, start, edge_steps, horizon,
                                                slots, eval_cost)
    except BaseException:
        # the weights mid-search are a search's (a sweep up to huge rates), not training:
        # the model goes back to how it came in
        session.restore(start)
        raise

    # 3. the final run, from the start snapshot; a session that can rewind its data gives
    # the final run the data in its own order, so it is the plain run at the chosen rate
    session.restore(start)
    start = None  # freed: the final run keeps its own snapshot of the start
    rewind = getattr(session, "rewind", None)
    if rewind is not None:
        rewind()
    lrs, losses, scale = _final_run(session, meter, lr, schedule, steps, settings, history)
    return Outcome(
        lr=lr, edge=edge, candidates=tuple(candidates), horizon=horizon, lrs=tuple(lrs),
        losses=tuple(losses), steps=steps, spent=meter.spent, limit=limit,
        by_phase=dict(meter.by_phase), history=tuple(history), final_scale=scale,
    )


def _search(
    session: Session,
    steps: int,
    schedule: Callable[[int], float],
    budget: float,
    settings: Settings,
    meter: Meter,
    history: list[Decision],
    start: Any,
    edge_steps: int,
    horizon: int,
    slots: int,
    eval_cost: int,
) -> tuple[Edge, float, list[tuple[float, float]], int]:
    """Phases 1 and 2: ``(edge, chosen lr, raced candidates, race horizon)``."""

    # pass-overs spend calls the plan did not: the slack it left, and at most a twentieth
    # of the final run (whose schedule is then compressed), never the rest of the budget
    planned = edge_steps + slots * (horizon + eval_cost)
    allowance = [max(0, meter.limit - steps - planned) + steps // 20]

    def counted_step(phase: str) -> Callable[[float], float]:
        def step(lr: float) -> float:
            return _step_past_bad_batches(session, meter, lr, phase, allowance, history)
        return step

    # 1. the stability edge
    edge: Edge | None = None
    if edge_steps:
        edge = find_edge(counted_step("edge"), start=settings.edge_start, end=settings.edge_end,
                         num=edge_steps)
        session.restore(start)
        first = float(edge.result.losses[0])
        if not math.isfinite(first):
            # taken before any update, at the model as it came in: no rate is to blame
            raise ValueError(
                f"`loss_fn` must return a finite loss for the model as given, but got {first} "
                "on the first batch before any update (check the model, loss_fn and data)"
            )
        history.append(Decision(
            "edge",
            f"range test over {edge.steps} steps: loss blew up from lr={edge.top:.3g}"
            if edge.diverged else f"range test over {edge.steps} steps never blew up; "
            f"lowest loss at lr={edge.top:.3g}",
            {"top": edge.top, "diverged": edge.diverged, "steps": edge.steps,
             "suggestion": edge.suggestion},
        ))

    # 2. race candidates below the edge on the compressed schedule
    candidates: list[tuple[float, float]] = []
    if edge is None:
        raise ValueError(
            f"`budget` and `steps` must leave room for a search, budget * steps >= steps + "
            f"{settings.edge_min_steps}, but got budget={budget!r} and steps={steps} "
            f"({int(math.floor(budget * steps + 1e-9))} calls in all); raise either"
        )
    progress = edge.progress
    if (horizon and slots > settings.plateau_slots and horizon < settings.plateau_horizon * steps
            and progress < settings.plateau_progress):
        # no rate of the sweep moved the loss: short candidates would all score about the
        # untrained loss and rank by noise; fewer, longer ones get off the plateau
        _, _, longer, fewer = plan_search(steps, budget, eval_cost,
                                          replace(settings, slots=settings.plateau_slots))
        if longer > horizon:
            history.append(Decision(
                "plateau",
                f"the range test lowered the loss by only {progress:.0%} of its start "
                f"(under {settings.plateau_progress:.0%}): racing {fewer} rates over {longer} "
                f"steps instead of {slots} over {horizon} (a larger budget races longer still)",
                {"progress": progress, "slots": fewer, "horizon": longer},
            ))
            horizon, slots = longer, fewer
    if horizon:
        multipliers = compressed_multipliers(schedule, steps=steps, horizon=horizon)

        def score(lr: float) -> float:
            value = _race_one(session, meter, lr, multipliers, allowance)
            session.restore(start)
            return value

        candidates = walk_race(score, top=edge.top, slots=slots, spacing=settings.spacing,
                               start=settings.walk_start)
        chosen, reason = _pick(candidates, bracketed=edge.diverged)
        winner = chosen
        rate_gain = getattr(session, "rate_gain", None)
        gain = float(rate_gain(horizon, steps)) if rate_gain is not None else 1.0
        if gain != 1.0 and math.isfinite(chosen):
            # the optimizer takes larger steps over the short race than over the full run
            # at the same nominal rate (AdaGrad): the full run needs a larger one
            scaled = chosen * gain
            # never above where the range test blew up (a sweep that never blew up has no edge)
            chosen = min(scaled, edge.top) if edge.diverged else scaled
            reason += (f"; x{gain:.3g} for the optimizer's smaller steps over a full run: "
                       f"{chosen:.3g}" + (" (capped at the edge)" if chosen < scaled else ""))
        if settings.blend and edge.suggestion is not None and math.isfinite(chosen):
            # two estimates with different biases (the range test's rule, calibrated on full
            # runs; the race, biased by its short horizon): their geometric mean
            suggestion = float(edge.suggestion)
            if max(chosen, suggestion) <= settings.agree_within * min(chosen, suggestion):
                blended = math.sqrt(chosen * suggestion)
                reason += (f"; blended with the range test's suggestion {suggestion:.3g} "
                           f"(geometric mean {blended:.3g})")
                chosen = blended
            elif suggestion < chosen:
                reason += (f"; the range test's suggestion {suggestion:.3g} is more than "
                           f"{settings.agree_within:g}x lower: took it (the lower of two "
                           f"estimates that disagree is the safer)")
                chosen = suggestion
            else:
                reason += (f"; the range test's suggestion {suggestion:.3g} is more than "
                           f"{settings.agree_within:g}x higher: kept the race's (the lower of "
                           f"two estimates that disagree is the safer)")
        history.append(Decision(
            "race",
            f"raced {len(candidates)} rates over {horizon} compressed steps; winner lr={winner:.3g}: "
            f"{reason}",
            {"horizon": horizon, "candidates": [list(c) for c in candidates], "winner": winner,
             "suggestion": edge.suggestion, "gain": gain, "lr": chosen},
        ))
        lr = chosen
    else:
        lr = edge.top * settings.fallback_fraction
        history.append(Decision(
            "race", f"budget too small to race; using {settings.fallback_fraction} x edge = {lr:.3g}",
            {"lr": lr},
        ))
    return edge, lr, candidates, horizon


#: batches in a row a search step tries past one whose loss is not finite
SEARCH_PASS_OVERS = 3


def _step_past_bad_batches(session: Session, meter: Meter, lr: float, phase: str,
                           allowance: list[int], history: list[Decision] | None = None,
                           ) -> float:
    """One search update at ``lr``, passing over a batch whose loss is not finite at
    weights that are sound.

    Such a loss makes no update, so the next batch meets the same weights: a finite loss
    there says the weights are sound and the batch is corrupt (not finite at any weights),
    and the step goes on with that batch. Without this, one corrupt batch read as the
    range test's blow-up, or as every raced candidate's, and the pick came out orders of
    magnitude too low. At most ``SEARCH_PASS_OVERS`` batches are tried past the first; a
    rate that blew the weights up gives a non-finite loss on all of them. Each try spends
    one call of ``allowance`` (a one-element list, shared by the whole search); none are
    tried once it is spent.
    """
    meter.charge(1, phase)
    loss = float(session.step(lr))
    for _ in range(SEARCH_PASS_OVERS):
        if math.isfinite(loss) or allowance[0] <= 0 or not meter.can_afford(1):
            break
        allowance[0] -= 1
        meter.charge(1, phase)
        loss = float(session.step(lr))
        if math.isfinite(loss) and history is not None:
            history.append(Decision(
                phase, f"passed over a batch whose loss was not finite at lr={lr:.3g}: the "
                "next batch's loss at the same weights was finite, so the batch, not the "
                "rate, was at fault", {"lr": lr}))
    return loss


def _race_one(session: Session, meter: Meter, lr: float, multipliers: Sequence[float],
              allowance: list[int] | None = None) -> float:
    """Train on the compressed schedule, then score: the mean loss over the held-back
    batches and the training batches of the last quarter (taken at small rates, near the
    end of the decay), weighted per batch. The training tail is free and halves the noise
    of a score taken on a handful of batches."""
    allowance = [0] if allowance is None else allowance  # no pass-overs unless given
    tail: list[float] = []
    tail_from = len(multipliers) - max(1, len(multipliers) // 4)
    first = math.nan
    for t, m in enumerate(multipliers):
        loss = _step_past_bad_batches(session, meter, lr * m, "race", allowance)
        if not math.isfinite(loss):
            return math.inf
        if t == 0:
            first = loss
        if t >= tail_from:
            tail.append(loss)
    meter.charge(session.eval_cost, "race")
    held_back = float(session.evaluate())
    if not math.isfinite(held_back):
        return math.inf
    n = session.eval_cost
    score = (held_back * n + sum(tail)) / (n + len(tail))
    # ending at twice the untrained model's loss (the first step's, taken before any update)
    # is a blow-up that stayed finite: it must not win a race among failures. (Merely not
    # beating that one batch is no failure: a slow problem can end a short race above it.)
    return math.inf if score > first + abs(first) else score


def _pick(candidates: Sequence[tuple[float, float]], *, bracketed: bool) -> tuple[float, str]:
    """The winning rate and why.

    The best-scoring candidate, refined by a parabola through it and its neighbours in
    log rate when the valley is smooth (not when one side is a cliff, where the parabola
    would be pulled away from the cliff by its height, not by the valley's shape). When
    the cliff is above (the next larger rate scores far worse, the next smaller one only a
    little), the pick is the geometric midpoint of the best and the rate below it: the
    full run holds the peak rate far longer than the race, closer to the cliff costs more
    than it did there, and the gentle side costs little. When
    the sweep never blew up (``bracketed`` False) and the largest candidate wins, that
    win is not trusted: short horizons favour large rates, and nothing above it was seen
    to fail, so the next one down is taken.
    """
    lrs = np.array([c[0] for c in candidates])
    scores = np.array([c[1] for c in candidates])
    if not np.isfinite(scores).any():
        return float(lrs.min()) * 0.1, "every candidate diverged; took a tenth of the smallest"
    order = np.argsort(lrs)
    lrs, scores = lrs[order], scores[order]
    best = int(np.argmin(scores))
    if not bracketed and best == len(lrs) - 1 and best > 0 and np.isfinite(scores[best - 1]):
        return float(lrs[best - 1]), ("the largest rate won but nothing above it was seen to fail; "
                                      "took the next one down (short races favour large rates)")
    if 0 < best < len(lrs) - 1:
        a, b, c = scores[best - 1:best + 2]
        rises = sorted([a - b, c - b])
        if np.isfinite([a, c]).all() and rises[1] <= 10 * max(rises[0], 1e-12):
            refined = parabola_minimum(np.log(lrs[best - 1:best + 2]), [a, b, c])
            if refined is not None:
                return float(math.exp(refined)), "best held-back loss, refined by a parabola"
        elif np.isfinite(a) and c - b > a - b:
            # a cliff above, a gentle slope below: the race's best sits at the cliff's foot,
            # and a full run holds its peak far longer than a race. Halfway down the gentle
            # side costs little and keeps away from it
            return (float(math.sqrt(lrs[best - 1] * lrs[best])),
                    "best held-back loss next to a cliff above: halfway to the rate below")
    return float(lrs[best]), "best held-back loss"


def _final_run(
    session: Session,
    meter: Meter,
    lr: float,
    schedule: Callable[[int], float],
    steps: int,
    settings: Settings,
    history: list[Decision],
) -> tuple[list[float], list[float], float]:
    """Train ``steps`` steps at ``lr * scale * schedule(t)``.

    When the loss blows up, training goes back to the older of the two checkpoints it
    keeps and carries on at a lower scale: the weights since then were shaped by the rate
    now judged too high, and a loss that looked healthy does not clear them (a memorised
    batch, weights grown large). The scale falls by the factor
    :func:`lrkit.auto.backoff.backoff_factor` reads from the geometric growth of the loss
    before the blow-up (a rate just above the edge grows it slowly and needs only a small
    step back), within 0.25-0.75, and by half when there is no such growth to read. The
    steps lost come out of the budget; when what is left cannot pay for the rest of the
    schedule at one step per step, the rest of the schedule is compressed onto the calls
    left, so the run still ends on the schedule's final rate (a decayed model, not one cut
    off mid-schedule, unless the run stops: below).

    A non-finite loss makes no update, so the next step's batch meets the same weights: a
    finite loss there (and no blow-up) clears them, and the batch before is passed over at
    once, its loss recorded as nan (up to ``SEARCH_PASS_OVERS`` in a row on trust; past
    that, or when the next loss blows up too, the blow-up is judged from the first of them).

    A bad batch is told from a bad rate by the weights: the loss of step t is taken before
    update t, so a non-finite loss with no update since a checkpoint (at its very step, or
    right after batches passed over there), or a spiking one when the checkpoint was taken
    healthy once the blow-up test had its reference, comes from that step's batch. A
    session with ``skip()`` then passes over the batch (its loss recorded as nan) instead
    of lowering the rate: any number in a row for non-finite losses, up to
    ``MAX_PASS_OVERS`` (3) spikes in a row on one checkpoint's weights; past that, the
    weights, not the batches, are at fault: the pass-overs are undone and the run goes
    back further. If the step passed over is the one whose blow-up caused the last step
    back and its loss is not finite, the step back is undone. After a step back the replay
    takes a checkpoint just before the step that blew up, so a batch that blows up at any
    rate is caught there. When the one checkpoint kept is in doubt (no update since it, or the same
    step blew up from it again after a step back), the run goes back to the start and
    forgets which batches it passed over or trained on (a session need not replay the
    same batches that far back). A session without ``skip()`` whose batch gives a
    non-finite loss before any update twice stops there, on the weights from before that
    batch: no rate can help, and lowering it on would only spend the budget.
    """
    check_positive("lr", lr)
    every = max(1, steps // settings.checkpoints)
    scale = 1.0
    lrs: list[float] = []
    losses: list[float] = []
    clock = 0.0  # position on the schedule; advances by more than 1 per step once compressed
    # (step index, clock, token, vouched: taken healthy against an established reference)
    checkpoints: list[tuple[int, float, Any, bool]] = [(0, clock, session.snapshot(), False)]
    origin = checkpoints[0]  # the last resort when the one checkpoint kept is in doubt
    watch = BlowUp()
    # the search may have spent a few calls more than planned (passing over a corrupt
    # batch): the schedule is then compressed onto the calls left, so the run ends decayed
    stride = max(1.0, steps / max(1, meter.left))
    skip = getattr(session, "skip", None)
    skipped: set[int] = set()
    lowered_for: int | None = None  # the step whose blow-up caused the last step back
    factor = 1.0  # the last step back's
    last_rollback: tuple[int, int] | None = None  # (step that blew up, step resumed from)
    unskippable: set[int] = set()  # steps blamed once in a session that cannot skip()
    trained: set[int] = set()  # steps whose batch trained without blowing up, on some pass
    pending: list[int] = []  # steps in a row whose loss was not finite, the next batch to judge
    passed_since = False  # a batch passed over on trust since the latest checkpoint
    while len(lrs) < steps and clock < steps:
        rate = lr * scale * float(schedule(min(steps - 1, int(round(clock)))))
        if len(lrs) in skipped:
            skip()
            lrs.append(rate)
            losses.append(math.nan)
            clock += stride
            continue
        if not meter.can_afford(1):
            break
        meter.charge(1, "final")
        loss = float(session.step(rate))
        if (not math.isfinite(loss) and len(pending) < SEARCH_PASS_OVERS and len(lrs) + 1 < steps
                and clock + stride < steps and meter.left >= 1):
            # no update was made on it: the next step's batch meets the same weights and
            # says whether they are sound (a finite loss: this batch was corrupt, and it
            # stays passed over) or not (the blow-up is handled there, from a checkpoint)
            pending.append(len(lrs))
            lrs.append(rate)
            losses.append(math.nan)
            clock += stride
            continue
        if watch.update(loss):
            if pending:
                # no finite loss came after the batches passed over on trust: the blow-up is
                # judged from the first of them, as if they had not been passed over (every
                # way on below replays from a checkpoint before them)
                del lrs[pending[0]:], losses[pending[0]:]
                loss = math.nan  # the first of them is what blew up, a non-finite loss
            failed_at = len(lrs)
            latest, _, _, vouched = checkpoints[-1]
            nonfinite = not math.isfinite(loss)
            # a spike needs a reference it can be trusted against; a nan or inf does not. A
            # batch that trained without trouble on an earlier pass is not one that blows up
            # at any rate: the weights it meets now are to blame
            blamable = failed_at not in trained and (
                nonfinite or (vouched and watch.reason == "spike"))
            # no update since the latest checkpoint (every step since was passed over):
            # the loss is the checkpoint's weights' on this batch, and no rate played a part
            untouched = all(t in skipped or t in pending for t in range(latest, failed_at))
            on_its_weights = blamable and untouched
            # a nan or inf on weights that gave finite losses is the data's, however many
            # batches in a row; a spike is judged against a reference that can be off, so
            # only a few in a row are taken for the batches' before the weights are doubted
            passable = nonfinite or failed_at - latest < MAX_PASS_OVERS
            if skip is not None and on_its_weights and passable:
                skipped.add(failed_at)
                what = f"the batch of step {failed_at} blows up at any rate: passing over it"
                # a non-finite loss there was the batch's all along: the step back it caused
                # is undone. A finite spike may still be the weights' that the lowered rate
                # shaped (it is no lower than needed): the step back stands
                if lowered_for == failed_at and nonfinite:
                    scale /= factor
                    lowered_for = None
                    what += ", at the rate it had before"
            elif skip is None and on_its_weights and nonfinite and latest in unskippable:
                # the batch's loss is not finite before any update, for the second time, and
                # the session cannot pass over it: no rate can help (a finite spike could
                # still be the weights' the rate shaped, and the rate is lowered on it)
                session.restore(checkpoints[-1][2])
                history.append(Decision(
                    "final",
                    f"loss blew up ({loss:.4g}) at step {failed_at} before any update"
                    " again: its batch blows up at any rate and the "
                    "session cannot pass over a batch (it has no skip()); stopped there",
                    {"stopped_at": failed_at, "scale": scale},
                ))
                pending = []  # judged: the run stops on the weights from before them
                break
            else:
                if skip is None and on_its_weights and nonfinite:
                    unskippable.add(latest)
                if untouched:
                    # the checkpoint's weights blew up on more batches in a row than are
                    # likely to be bad, or not in a way a batch explains: the batches passed
                    # over there were not to blame after all, the weights are
                    skipped.difference_update(range(latest, failed_at))
                # the rate is to blame, and the weights it shaped since the older checkpoint
                # may be damaged although their loss looked healthy (large weights, a
                # memorised batch): go back to that one. When only one is kept and it is in
                # doubt (no update since it, or the same step blew up from it again after
                # a step back), go back to the start, whose weights the rate never touched
                target = checkpoints[-2] if len(checkpoints) > 1 else checkpoints[-1]
                in_doubt = target[0] > 0 and (last_rollback == (failed_at, target[0])
                                              or (untouched and len(checkpoints) == 1))
                checkpoints = [origin if in_doubt else target]
                if in_doubt:
                    # a session need not replay the same batches this far back (the torch
                    # adapter keeps them only from the older checkpoint on): what was learnt
                    # about the batches of the steps after the start no longer holds
                    skipped.clear()
                    trained.clear()
                last_rollback = (failed_at, checkpoints[-1][0])
                # a slow geometric rise came from just above the edge, a fast one from far
                # above it: step back by what the growth says, or halve when it says
                # nothing (a sudden jump, a nan, a trend)
                read = backoff_factor([*losses, loss])
                factor = HALVING if read is None else read
                scale *= factor
                lowered_for = failed_at
                what = (f"resumed from step {checkpoints[-1][0]} at half the rate" if read is None
                        else f"resumed from step {checkpoints[-1][0]} at {factor:.2f}x the rate "
                        "(read from how fast the loss grew)")
            back, clock, token, _ = checkpoints[-1]
            session.restore(token)
            del lrs[back:], losses[back:]
            pending = []
            stride = max(stride, (steps - clock) / max(1, meter.left))
            # back before the blow-up test had its reference (the start of the run), that
            # reference, taken from losses the rollback undid, is rebuilt
            watch = BlowUp() if back < watch.warmup else watch
            watch.restart()
            history.append(Decision(
                "final",
                f"loss blew up ({loss:.4g}) at step {failed_at}; {what}"
                + (f", the rest of the schedule compressed {stride:.2f}x to fit the budget"
                   if stride > 1 else ""),
                {"resumed_at": back, "scale": scale, "stride": stride,
                 "skipped": sorted(skipped)},
            ))
            continue
        if pending:
            history.append(Decision(
                "final", f"passed over the batch of step {', '.join(map(str, pending))}: its "
                f"loss was not finite, and the next batch's at the same weights ({loss:.4g}) "
                "was, so the batch, not the rate, was at fault", {"passed_over": pending}))
            pending = []
            passed_since = True
        trained.add(len(lrs))
        lrs.append(rate)
        losses.append(loss)
        clock += stride
        at = len(lrs)
        # a checkpoint every `every` steps while healthy, and one just before the step whose
        # blow-up caused a step back, to judge that step when it comes again (healthy or not:
        # a nan there is its batch's all the same, a spike only when vouched for)
        healthy = watch.healthy()
        # (batches passed over can step over the multiples of `every`: then after `every`)
        due = at % every == 0 or (passed_since and at - checkpoints[-1][0] >= every)
        if at > checkpoints[-1][0] and ((due and healthy) or at == lowered_for):
            vouched = healthy and not math.isnan(watch.ref)
            checkpoints = [*checkpoints[-1:], (at, clock, session.snapshot(), vouched)]
            passed_since = False
    if pending:
        # the run stopped before a batch could clear the weights after a non-finite loss:
        # they may be broken, so the run ends on the latest checkpoint's
        back, _, token, _ = checkpoints[-1]
        session.restore(token)
        del lrs[back:], losses[back:]
        history.append(Decision(
            "final", f"the run ended on a non-finite loss at step {pending[0]} that no later "
            f"batch could clear: ended on the weights of step {back}", {"resumed_at": back}))
    return lrs, losses, scale
