"""The runnable examples in the docstrings of lrkit's modules run and stay true: one test
per module that has examples, found by walking the package, so a new example is tested
without being listed here."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import lrkit

OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _modules_with_examples() -> list[str]:
    found = []
    for info in pkgutil.walk_packages(lrkit.__path__, prefix="lrkit."):
        try:
            module = importlib.import_module(info.name)
        except ImportError:  # an optional extra (lightning) that is not installed
            continue
        examples = [e for t in doctest.DocTestFinder().find(module) if t.name.startswith(info.name)
                    for e in t.examples]
        if any(not e.options.get(doctest.SKIP) for e in examples):
            found.append(info.name)
    return found


MODULES = _modules_with_examples()


def test_the_walk_finds_the_modules_known_to_have_examples() -> None:
    # a guard on the discovery itself: if it silently found nothing, nothing would run
    for name in ["lrkit.schedules.decay", "lrkit.torch.scheduler", "lrkit.lab.theory",
                 "lrkit.auto.core", "lrkit.problems.grid", "lrkit.tuning.api",
                 "lrkit.bench.runner"]:
        assert name in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=OPTIONS)
    assert result.failed == 0
    assert result.attempted > 0, f"{name} has no examples"
