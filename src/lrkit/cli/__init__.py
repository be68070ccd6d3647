"""The ``lrkit`` command line. Each subcommand is a module in ``lrkit.cli.commands``."""
