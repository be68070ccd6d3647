"""The learning-rate range test: raise the rate every step, watch the loss, read the curve.

Framework-agnostic: :func:`range_test` drives any ``step(lr) -> loss``;
``lrkit.torch.find_lr`` wraps a PyTorch model, optimizer and data around it and puts
everything back afterwards.

>>> import lrkit
>>> state = {"x": 4.0}
>>> def step(lr):
...     loss = state["x"] ** 2
...     state["x"] -= lr * 2 * state["x"]
...     return loss
>>> result = lrkit.range_test(step, start=1e-4, end=10.0, num=50)
>>> result.stop_reason
'diverged'
"""

from lrkit.finder.core import RULES, analyze, range_test, sweep_rates
from lrkit.finder.divergence import DivergenceDetector
from lrkit.finder.result import RangeTestResult

__all__ = ["RULES", "DivergenceDetector", "RangeTestResult", "analyze", "range_test", "sweep_rates"]
