"""Pure learning-rate schedules: functions of the step that return a multiplier.

``lr_group(t) = base_lr_group * schedule(t)``. Every factory validates its arguments and
returns an immutable :class:`Schedule` that evaluates a scalar step (float) or a numpy
array of steps (ndarray), prints as the call that builds it, compares by value and
round-trips through :func:`parse` (text) and :func:`from_dict` (JSON).

Conventions: the value at step ``k`` is the rate of update ``k``; warmups start above zero;
past its horizon a schedule holds its final value; each docstring says whether a horizon
includes warmup. Importing this module never imports torch, matplotlib or optuna.

>>> from lrkit.schedules import warmup, cosine, parse
>>> s = warmup(100, cosine(10000, final=0.1))
>>> parse(str(s)) == s
True
>>> s([0, 100, 10100]).round(4).tolist()
[0.0099, 1.0, 0.1]
"""

from lrkit.schedules.base import Schedule
from lrkit.schedules.compose import join, warmup
from lrkit.schedules.decay import (
    constant,
    cosine,
    exponential,
    inverse_time,
    linear,
    multistep,
    polynomial,
    step,
)
from lrkit.schedules.parsing import (
    ScheduleEndsEarlyWarning,
    as_schedule,
    from_dict,
    parse,
    warn_if_ends_early,
)
from lrkit.schedules.periodic import cosine_restarts, cyclic, one_cycle
from lrkit.schedules.plateau import ReduceOnPlateau
from lrkit.schedules.registry import FACTORIES, Family, families
from lrkit.schedules.warmup_decay import inverse_sqrt, wsd

__all__ = [
    "FACTORIES",
    "Family",
    "ReduceOnPlateau",
    "Schedule",
    "ScheduleEndsEarlyWarning",
    "as_schedule",
    "constant",
    "cosine",
    "cosine_restarts",
    "cyclic",
    "exponential",
    "families",
    "from_dict",
    "inverse_sqrt",
    "inverse_time",
    "join",
    "linear",
    "multistep",
    "one_cycle",
    "parse",
    "polynomial",
    "step",
    "warmup",
    "warn_if_ends_early",
    "wsd",
]
