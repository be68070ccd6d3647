"""lrkit: the learning rate of gradient-based training, end to end.

A learning rate is a scale times a shape: ``lr_group(t) = base_lr_group * schedule(t)``.
lrkit finds and tunes the scale, shapes it with pure schedules, watches training for a
rate that is wrong and recovers when training diverges.

``import lrkit`` is light: it never imports torch, matplotlib or optuna. The names below
are loaded on first use, so ``lrkit.tune`` pulls in Optuna only when you call for it.

>>> import lrkit
>>> lrkit.schedules.cosine(100)(50)
0.5
"""

from __future__ import annotations

from lrkit._lazy import lazy_exports

__version__ = "0.1.0"

# public name -> module that defines it; imported lazily on attribute access
_LAZY = {
    "schedules": "lrkit.schedules",
    "problems": "lrkit.problems",
    "lab": "lrkit.lab",
    "range_test": "lrkit.finder",
    "RangeTestResult": "lrkit.finder",
    "Monitor": "lrkit.monitor",
    "Verdict": "lrkit.monitor",
    "tune": "lrkit.tuning",
    "DivergenceError": "lrkit.errors",
    "LrkitError": "lrkit.errors",
}

__all__ = sorted(_LAZY) + ["__version__"]


__getattr__ = lazy_exports("lrkit", globals(), _LAZY)


def __dir__() -> list[str]:
    return __all__
