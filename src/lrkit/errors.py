"""Exceptions raised by lrkit.

Bad arguments raise the built-in ``ValueError`` / ``TypeError`` (see
``lrkit._validation``); the classes here are for conditions of training itself.
"""

from __future__ import annotations

from typing import Any


class LrkitError(Exception):
    """Base class of lrkit's own exceptions."""


class LrkitWarning(UserWarning):
    """Base class of lrkit's own warnings (the CLI prints them as one line each)."""


class DivergenceError(LrkitError):
    """Training diverged and could not be recovered within the allowed retries.

    ``diagnosis`` carries the verdict (or verdicts) that led to giving up, so the
    caller can log or inspect the evidence.
    """

    def __init__(self, message: str, diagnosis: Any = None) -> None:
        super().__init__(message)
        self.diagnosis = diagnosis
