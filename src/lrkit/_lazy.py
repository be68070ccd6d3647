"""Lazy exports: a package names what it offers, and each name is imported on first use.

This keeps ``import lrkit`` (and ``import lrkit.torch``, ``import lrkit.tuning``) cheap:
torch, matplotlib and optuna load only when a name that needs them is touched.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(
    package: str, namespace: dict[str, Any], table: dict[str, str]
) -> Callable[[str], Any]:
    """The module ``__getattr__`` of ``package`` serving ``table`` (public name -> module).

    A name resolves to the attribute of that name in its module, or, where the module is
    ``package.name`` and has no such attribute, to the module itself. On first use of
    a module, every name ``table`` takes from it is bound in ``namespace``. (Importing a
    submodule sets the package attribute of its name to the submodule, whatever was bound
    before: so no submodule may be named like a function it exports, and
    ``lrkit.torch.autotrain`` lives in ``lrkit/torch/auto.py``.)

    >>> table = {"sqrt": "math", "pi": "math"}
    >>> namespace = {}
    >>> getattr_ = lazy_exports("demo", namespace, table)
    >>> getattr_("sqrt")(4.0), sorted(namespace)
    (2.0, ['pi', 'sqrt'])
    """

    def __getattr__(name: str) -> Any:
        module_name = table.get(name)
        if module_name is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(module_name)
        for lazy_name, lazy_module in table.items():
            if lazy_module == module_name:
                if module_name == f"{package}.{lazy_name}" and not hasattr(module, lazy_name):
                    namespace[lazy_name] = module
                else:
                    namespace[lazy_name] = getattr(module, lazy_name)
        return namespace[name]

    return __getattr__
