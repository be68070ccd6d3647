"""The runnable examples in the docstrings of lrkit's modules run and stay true: one test
per module, each with the doctest options its examples were written for."""

from __future__ import annotations

import doctest
import importlib

import pytest

SCHEDULES = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
PLAIN = doctest.ELLIPSIS

MODULES = {
    "lrkit.schedules": SCHEDULES,
    "lrkit.schedules.base": SCHEDULES,
    "lrkit.schedules.decay": SCHEDULES,
    "lrkit.schedules.periodic": SCHEDULES,
    "lrkit.schedules.warmup_decay": SCHEDULES,
    "lrkit.schedules.compose": SCHEDULES,
    "lrkit.schedules.parsing": SCHEDULES,
    "lrkit.schedules.registry": SCHEDULES,
    "lrkit.schedules.plateau": SCHEDULES,
    "lrkit.schedules.plotting": SCHEDULES,
    "lrkit.torch.scheduler": SCHEDULES,
    "lrkit.lab": PLAIN,
    "lrkit.lab.optimizers": PLAIN,
    "lrkit.lab.objectives": PLAIN,
    "lrkit.lab.theory": PLAIN,
    "lrkit.lab.experiments": PLAIN,
    "lrkit.lab.plots": PLAIN,
    "lrkit.auto.edge": PLAIN,
    "lrkit.auto.race": PLAIN,
    "lrkit.auto.backoff": PLAIN,
    "lrkit.auto.budget": PLAIN,
    "lrkit.auto.blowup": PLAIN,
}


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=MODULES[name])
    assert result.failed == 0
    assert result.attempted > 0, f"{name} has no examples"
