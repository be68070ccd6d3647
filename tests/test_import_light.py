"""``import lrkit`` and its light parts (schedules, monitor, auto core, bench, lab, problem
registry) never import torch, matplotlib, optuna or scikit-learn."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "matplotlib", "optuna", "sklearn")

SNIPPETS = {
    "import lrkit": "import lrkit",
    "import lrkit.schedules": "import lrkit.schedules",
    "parse and evaluate": (
        "import numpy as np, lrkit.schedules as S\n"
        "s = S.parse('warmup(100, cosine(10000, final=0.1))')\n"
        "s(5); s(np.arange(100)); S.from_dict(s.to_dict()); S.families(); str(s)"
    ),
    "lazy attribute": "import lrkit; lrkit.schedules.cosine(10)(3); lrkit.__version__",
    "plateau": "from lrkit.schedules import ReduceOnPlateau; ReduceOnPlateau().report(1.0)",
    "cli parser": "from lrkit.cli.main import build_parser; build_parser()",
    "monitor": "import lrkit; lrkit.Monitor().update(1.0); import lrkit.monitor",
    "auto core and bench": "import lrkit.auto, lrkit.bench",
    "lab": ("import lrkit.lab, lrkit.lab.plots\n"
            "from lrkit import lab; lab.sweep('quadratic', num=5, steps=5)"),
    "problem registry": "import lrkit.problems as p; p.names(); p.get",
}


@pytest.mark.parametrize("code", list(SNIPPETS.values()), ids=list(SNIPPETS))
def test_light_imports(code: str) -> None:
    probe = code + f"\nimport sys, json\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_the_probe_can_fail() -> None:
    # the same probe does report a module that the snippet imports (numpy, cheaply)
    probe = "import lrkit.schedules\nimport sys, json\nprint(json.dumps(['numpy' in sys.modules]))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=120)
    assert json.loads(result.stdout.strip()) == [True]


def test_every_lazy_name_is_what_it_names_whatever_was_imported_first() -> None:
    # importing a submodule sets the package attribute of its name: a submodule called like
    # a function it exports (lrkit/torch/autotrain.py) made `from lrkit.torch import
    # autotrain` the module once `from lrkit.torch.autotrain import AutoResult` had run
    code = (
        "from lrkit.torch.auto import AutoResult\n"
        "from lrkit.torch import autotrain\n"
        "assert callable(autotrain) and autotrain.__name__ == 'autotrain', autotrain\n"
        "import importlib, pkgutil, types\n"
        "import lrkit, lrkit.torch, lrkit.tuning, lrkit.problems\n"
        "for pkg in (lrkit.torch, lrkit.tuning, lrkit.problems):\n"
        "    for info in pkgutil.iter_modules(pkg.__path__):\n"
        "        importlib.import_module(f'{pkg.__name__}.{info.name}')\n"
        "bad = [f'{pkg.__name__}.{name}' for pkg in (lrkit, lrkit.torch, lrkit.tuning, lrkit.problems)\n"
        "       for name in pkg.__all__\n"
        "       if isinstance(getattr(pkg, name), types.ModuleType) and name not in\n"
        "       ('schedules', 'problems', 'lab', 'auto', 'finder', 'monitor', 'bench', 'tuning')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
