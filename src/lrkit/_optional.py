"""Import optional dependencies with a message that names the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

# module -> the lrkit extra that installs it
_EXTRAS = {
    "torch": "torch",
    "matplotlib": "plot",
    "sklearn": "problems",
    "optuna": "tune",
    "sqlalchemy": "tune",
    "lightning": "lightning",
    "prodigyopt": "bench",
    "dadaptation": "bench",
    "dog": "bench",
    "schedulefree": "bench",
    "torch_lr_finder": "bench",
}


def require(module: str, feature: str = "this feature") -> ModuleType:
    """Import ``module`` or raise ImportError saying which extra provides it.

    >>> require("math").sqrt(4.0)
    2.0
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        extra = _EXTRAS.get(top)
        hint = f"pip install 'lrkit[{extra}]'" if extra else f"pip install {top}"
        raise ImportError(
            f"{feature} needs the optional package {top!r}, which is not installed; "
            f"install it with: {hint}"
        ) from exc


def pyplot() -> ModuleType:
    """matplotlib.pyplot, forced onto the non-interactive Agg backend unless one is set.

    lrkit never calls ``plt.show()``: it returns Axes and writes files.
    """
    matplotlib = require("matplotlib", "plotting")
    import os

    if "MPLBACKEND" not in os.environ and not _interactive_backend_in_use(matplotlib):
        matplotlib.use("Agg")
    return importlib.import_module("matplotlib.pyplot")


def _interactive_backend_in_use(matplotlib: ModuleType) -> bool:
    import sys

    return "matplotlib.pyplot" in sys.modules and matplotlib.get_backend().lower() != "agg"
