"""The PyTorch adapter: thin wrappers that drive lrkit's framework-agnostic core.

``import lrkit.torch`` imports torch (and fails with a message naming the ``torch`` extra
when it is missing); the names below load on first use.
"""

from __future__ import annotations

from lrkit._lazy import lazy_exports
from lrkit._optional import require

require("torch", "lrkit.torch")

_LAZY = {
    "ScheduleLR": "lrkit.torch.scheduler",
    "find_lr": "lrkit.torch.finder",
    "Guard": "lrkit.torch.guard",
    "autotrain": "lrkit.torch.auto",
    "AutoResult": "lrkit.torch.auto",
    "Snapshot": "lrkit.torch.state",
    "capture_rng": "lrkit.torch.state",
    "restore_rng": "lrkit.torch.state",
}

__all__ = sorted(_LAZY)


__getattr__ = lazy_exports("lrkit.torch", globals(), _LAZY)


def __dir__() -> list[str]:
    return __all__
