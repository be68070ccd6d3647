"""The examples in the docstrings of the schedule modules and ScheduleLR run and are right."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "lrkit.schedules",
    "lrkit.schedules.base",
    "lrkit.schedules.decay",
    "lrkit.schedules.periodic",
    "lrkit.schedules.warmup_decay",
    "lrkit.schedules.compose",
    "lrkit.schedules.parsing",
    "lrkit.schedules.registry",
    "lrkit.schedules.plateau",
    "lrkit.schedules.plotting",
    "lrkit.torch.scheduler",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted > 0, f"{name} has no examples"
