"""Learning-rate search on Optuna: ``lrkit.tune`` and the pieces it is made of.

lrkit adds what a generic tuner lacks for this one parameter: an LR-aware sampler
(:class:`LRSampler`), a divergence-aware pruner (:class:`DivergencePruner`), an objective
interface with ``trial.lr`` and ``trial.report(step, loss)``, a budget in full-run
equivalents, and recovery of trials whose worker died, on every storage.

``lrkit.tune`` is the function :func:`tune`; this package is ``lrkit.tuning``.

>>> import lrkit
>>> callable(lrkit.tune)
True
"""

from __future__ import annotations

from lrkit._lazy import lazy_exports

_LAZY = {
    "tune": "lrkit.tuning.api",
    "TuneResult": "lrkit.tuning.api",
    "result_of": "lrkit.tuning.api",
    "LRSampler": "lrkit.tuning.sampler",
    "DivergencePruner": "lrkit.tuning.pruner",
    "Trial": "lrkit.tuning.trial",
    "Diverged": "lrkit.tuning.trial",
    "open_storage": "lrkit.tuning.storage",
    "problem_objective": "lrkit.tuning.objective",
    "tune_problem": "lrkit.tuning.objective",
    "plot_trials": "lrkit.tuning.plot",
}

__all__ = sorted(_LAZY)


__getattr__ = lazy_exports("lrkit.tuning", globals(), _LAZY)


def __dir__() -> list[str]:
    return __all__
