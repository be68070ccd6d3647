"""Test-wide settings: plots never open a window, and torch uses one thread per test
process so that the suite behaves the same on a 2-core CI machine."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")

try:
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover - torch is part of the dev extra
    pass
