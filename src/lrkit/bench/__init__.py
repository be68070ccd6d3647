"""``lrkit bench``: methods of picking the rate, side by side, against a cached grid.

>>> from lrkit.bench import METHODS
>>> "auto" in METHODS and "default" in METHODS
True
"""

from lrkit.bench.methods import METHODS, Method, MethodRun, get_methods
from lrkit.bench.runner import BenchResult, Cell, run_bench

__all__ = ["METHODS", "BenchResult", "Cell", "Method", "MethodRun", "get_methods", "run_bench"]
