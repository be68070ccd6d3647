"""The PyTorch adapter: thin wrappers that drive lrkit's framework-agnostic core.

``import lrkit.torch`` imports torch (and fails with a message naming the ``torch`` extra
when it is missing); the names below load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from lrkit._optional import require

require("torch", "lrkit.torch")

_LAZY = {
    "ScheduleLR": "lrkit.torch.scheduler",
    "find_lr": "lrkit.torch.finder",
    "Guard": "lrkit.torch.guard",
    "autotrain": "lrkit.torch.autotrain",
    "AutoResult": "lrkit.torch.autotrain",
    "Snapshot": "lrkit.torch.state",
    "capture_rng": "lrkit.torch.state",
    "restore_rng": "lrkit.torch.state",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'lrkit.torch' has no attribute {name!r}")
    module = importlib.import_module(module_name)
    # bind every lazy name of that module: importing lrkit.torch.autotrain sets the package
    # attribute ``autotrain`` to the submodule, which would shadow the function of that name
    for lazy_name, lazy_module in _LAZY.items():
        if lazy_module == module_name:
            globals()[lazy_name] = getattr(module, lazy_name)
    return globals()[name]


def __dir__() -> list[str]:
    return __all__
