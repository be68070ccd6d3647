"""The runnable examples in the lab's docstrings stay true."""

import doctest
import importlib

import pytest

MODULES = ["lrkit.lab", "lrkit.lab.optimizers", "lrkit.lab.objectives", "lrkit.lab.theory",
           "lrkit.lab.experiments", "lrkit.lab.plots"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    failures, attempted = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert attempted > 0
    assert failures == 0
