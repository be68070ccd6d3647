"""The runnable examples in the docstrings of lrkit.auto's modules stay true."""

import doctest
import importlib

import pytest

MODULES = ["lrkit.auto.edge", "lrkit.auto.race", "lrkit.auto.backoff", "lrkit.auto.budget",
           "lrkit.auto.blowup"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    failures, attempted = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert attempted > 0
    assert failures == 0
