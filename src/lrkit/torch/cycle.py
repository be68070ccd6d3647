"""Batches from any iterable, forever: a re-iterable source (a list, a DataLoader) starts a
new pass when it runs out; a one-pass iterator that runs out is an error that says so.

>>> batches = Cycle([1, 2])
>>> [next(batches) for _ in range(5)]
[1, 2, 1, 2, 1]
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

logger = logging.getLogger(__name__)


class Cycle:
    """Endless batches from ``data``, restarting it when it runs out.

    ``name`` is the argument the errors name; ``advice`` ends the one-pass error.
    """

    def __init__(self, data: Iterable[Any], *, name: str = "data", advice: str = "") -> None:
        self.data = data
        self.name = name
        self.advice = advice
        self.iterator: Iterator[Any] = iter(data)
        self.served = 0
        self.restarts = 0

    def __iter__(self) -> Cycle:
        return self

    def __next__(self) -> Any:
        try:
            batch = next(self.iterator)
        except StopIteration:
            self.iterator = iter(self.data)
            if self.iterator is self.data and self.served > 0:
                raise ValueError(
                    f"`{self.name}` must be re-iterable (a list, a DataLoader) or endless, but "
                    f"got a one-pass iterator that ran out after {self.served} batches"
                    + (f"; {self.advice}" if self.advice else "")
                ) from None
            try:
                batch = next(self.iterator)
            except StopIteration:
                raise ValueError(f"`{self.name}` must yield at least one batch, but got "
                                 f"{self.name}={self.data!r}") from None
            self.restarts += 1
            logger.debug("%s restarted after %d batches", self.name, self.served)
        self.served += 1
        return batch
