"""Integrations with training frameworks (each imports its framework lazily).

* :mod:`lrkit.integrations.lightning` -- ``LrkitGuard``, a PyTorch Lightning callback that
  watches the rate and recovers from divergence inside ``Trainer.fit``.
"""
