"""Built-in training problems and the registry behind ``--problem``.

>>> from lrkit import problems
>>> "digits-mlp" in problems.names()
True
"""

from lrkit.problems.base import Problem, get, names, register

__all__ = ["Problem", "get", "names", "register"]
