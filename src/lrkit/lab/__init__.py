"""The learning-rate lab: the trade-off of the rate, shown on problems with known answers.

Pure numpy (matplotlib only inside the plotting functions). Optimizers are small pure
updates matching ``torch.optim`` step for step; objectives know their minimum and, where
theory applies, their curvatures ``L`` and ``mu``; experiments return data; plots draw it.

>>> from lrkit import lab
>>> r = lab.sweep("quadratic", "gd", num=60, steps=100)
>>> sorted(r.theory)
['1/L', '2/(L+mu)', '2/L']
>>> r.zones[0], r.zones[-1]
('too low', 'too high')

Modules: :mod:`~lrkit.lab.optimizers`, :mod:`~lrkit.lab.objectives`,
:mod:`~lrkit.lab.theory`, :mod:`~lrkit.lab.experiments`, :mod:`~lrkit.lab.plots`.
"""

from lrkit.lab import experiments, objectives, optimizers, plots, theory
from lrkit.lab.experiments import (
    CompareResult,
    DecayResult,
    PathResult,
    SweepResult,
    Trajectory,
    compare,
    decay,
    path,
    run,
    sweep,
)
from lrkit.lab.objectives import Objective
from lrkit.lab.optimizers import GD, AdaGrad, Adam, AdamW, HeavyBall, Nesterov, RMSProp

__all__ = [
    "experiments", "objectives", "optimizers", "plots", "theory",
    "run", "sweep", "path", "decay", "compare",
    "Trajectory", "SweepResult", "PathResult", "DecayResult", "CompareResult", "Objective",
    "GD", "HeavyBall", "Nesterov", "AdaGrad", "RMSProp", "Adam", "AdamW",
]
