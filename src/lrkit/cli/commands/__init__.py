"""One module per subcommand.

Each module defines ``ORDER`` (its place in ``lrkit --help``) and
``register(subparsers)``, which adds its parser and sets ``func=run``. Modules import
heavy packages (torch, matplotlib, optuna) inside ``run``, so ``lrkit --help`` is fast.
"""
