"""Watch training: :class:`Monitor` says whether the rate is ok, too high, too low, on a
plateau or has diverged, with the evidence and a recommended factor for the rate.

Framework-agnostic (plain Python and numpy); :class:`lrkit.torch.Guard` drives it in a
PyTorch loop and recovers from divergence.

>>> from lrkit import Monitor
>>> monitor = Monitor()
>>> monitor.update(float("inf")).cause
'non_finite_loss'
"""

from lrkit.monitor.detector import Monitor
from lrkit.monitor.replay import Change, Diagnosis, diagnose, read_log
from lrkit.monitor.verdict import (
    DIVERGED,
    OK,
    PLATEAU,
    STATUSES,
    TOO_HIGH,
    TOO_LOW,
    Evidence,
    Verdict,
)

__all__ = [
    "Change",
    "Diagnosis",
    "diagnose",
    "read_log",
    "DIVERGED",
    "OK",
    "PLATEAU",
    "STATUSES",
    "TOO_HIGH",
    "TOO_LOW",
    "Evidence",
    "Monitor",
    "Verdict",
]
